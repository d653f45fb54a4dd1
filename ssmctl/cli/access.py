"""`ssmctl access`: least-privilege policies, their validation, and access checks."""

from __future__ import annotations

import click

from ssmctl.cli.completers import complete_target
from ssmctl.cli.context import App
from ssmctl.cli.options import choice_options, common_options, target_options
from ssmctl.cli.registry import exit_codes_epilog
from ssmctl.cli.targeting import resolve_one, target_spec
from ssmctl.errors import ExitStatus, InvalidPolicy, UsageError
from ssmctl.output import Column

_LIMITS = click.Choice(["managed", "user", "role", "group"])
_LIMIT_HELP = (
    "The IAM size quota to check: managed policy (6,144 characters, the default), "
    "inline user (2,048), role (10,240) or group (5,120) policy."
)
CHECK_COLUMNS = (
    Column("kind", "CHECKED"),
    Column("decision", "DECISION", style=lambda v: "green" if v == "allowed" else "red"),
    Column("resource", "RESOURCE", no_wrap=True),
    Column("reason", "WHY"),
)
PROBLEM_COLUMNS = (
    Column("severity", "SEVERITY"),
    Column("where", "WHERE"),
    Column("message", "PROBLEM"),
)


@click.group(epilog=exit_codes_epilog())
def access() -> None:
    """Least-privilege IAM policies for Session Manager, and who may start sessions where."""


@access.command("policy", epilog=exit_codes_epilog())
@click.option(
    "--tag",
    "tags",
    metavar="KEY=VALUE",
    multiple=True,
    help="Only instances with this tag (StringLike: * and ? work). Several keys are ANDed; "
    "several values of one key are alternatives.",
)
@click.option(
    "--instance", "instances", metavar="ID", multiple=True, help="Only this instance (i- or mi-)."
)
@click.option("--group", metavar="NAME", help="Only the members of this resource group, by ARN.")
@click.option(
    "--document",
    "documents",
    metavar="NAME",
    multiple=True,
    help="Also allow this Session document (name or ARN; AWS-* are AWS-owned).",
)
@click.option(
    "--port-forwarding",
    is_flag=True,
    help="Also allow AWS-StartPortForwardingSession and ...ToRemoteHost.",
)
@click.option(
    "--own-sessions-only",
    is_flag=True,
    help="End and resume only one's own sessions (IAM users and roles/SSO alike).",
)
@click.option(
    "--read-only",
    is_flag=True,
    help="Only the read actions (list instances and sessions): no session is started or ended.",
)
@click.option("--limit", type=_LIMITS, default="managed", show_default=True, help=_LIMIT_HELP)
@common_options(fan_out=True)
def policy(
    app: App,
    tags: tuple[str, ...],
    instances: tuple[str, ...],
    group: str | None,
    documents: tuple[str, ...],
    port_forwarding: bool,
    own_sessions_only: bool,
    read_only: bool,
    limit: str,
) -> None:
    """Print a least-privilege IAM policy (JSON) for using Session Manager through ssmctl.

    StartSession is allowed on the instances chosen (all of them, by tag, by id, or a
    resource group's members) in the account and regions of the current credentials
    (--all-regions: any region) and on the shell document; TerminateSession and
    ResumeSession on sessions (with --own-sessions-only, one's own); plus the read
    actions the other commands use. The output is deterministic (fixed Sids, sorted
    lists) and is checked before it is printed: a policy over the size quota fails
    (exit 2). -o yaml prints YAML, -o jsonl one line; every other format prints JSON.
    docs/access.md explains each statement.
    """
    from ssmctl.access.policy import PolicyOptions, build_policy, policy_scope, render_policy
    from ssmctl.access.validate import SIZE_LIMITS, check_policy, policy_size
    from ssmctl.targets import is_instance_id, parse_tag

    bad = [i for i in instances if not is_instance_id(i.lower())]
    if bad:
        raise UsageError(f"--instance {bad[0]!r} is not an instance id (i-... or mi-...)")
    options = PolicyOptions(
        tags=tuple(parse_tag(t) for t in tags),
        instances=tuple(sorted({i.lower() for i in instances})),
        group=group,
        documents=tuple(sorted(set(documents))),
        port_forwarding=port_forwarding,
        own_sessions_only=own_sessions_only,
        read_only=read_only,
    )
    settings = app.settings
    aws = app.aws()
    regions = app.regions(aws) if (group or not settings.all_regions) else []
    scope = policy_scope(aws, options, regions, settings.all_regions)
    document = build_policy(options, scope)
    text = render_policy(document)
    problems = [p for p in check_policy(text, limit=limit) if p.error]
    if problems:
        raise InvalidPolicy(f"the policy is not usable: {problems[0]}")
    if not (tags or instances or group or read_only):
        app.notice("note: no --tag, --instance or --group: sessions on every instance are allowed")
    size = policy_size(text)
    if limit == "managed" and size > SIZE_LIMITS["user"]:
        app.notice(
            f"note: {size} characters: attach it as a managed policy (up to "
            f"{SIZE_LIMITS['managed']}), not inline to a user (up to {SIZE_LIMITS['user']})"
        )
    output = settings.output
    if output == "yaml":
        import yaml

        app.stdout.write(yaml.safe_dump(document, sort_keys=False))
    else:
        app.stdout.write(render_policy(document, compact=output == "jsonl"))


@access.command("validate", epilog=exit_codes_epilog())
@click.argument("path", metavar="FILE")
@click.option("--limit", type=_LIMITS, default="managed", show_default=True, help=_LIMIT_HELP)
@common_options()
def validate(app: App, path: str, limit: str) -> None:
    """Check an IAM policy document (FILE, or - for stdin) before IAM sees it.

    Finds what IAM would refuse (bad JSON, unknown elements, a Principal, a bad Effect,
    actions that are not service:Action, resources that are not ARNs, unknown condition
    operators, a size over the quota) and what it accepts but probably should not
    (duplicate Sids or keys, variables in a 2008-10-17 policy). Lists every problem;
    exits 2 when there is an error, 0 when there are only warnings or none.
    """
    from ssmctl.access.validate import check_policy

    try:
        text = app.stdin.read() if path == "-" else _read(path)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    problems = check_policy(text, limit=limit)
    records = [
        {"severity": "error" if p.error else "warning", "where": p.where, "message": p.message}
        for p in problems
    ]
    if records:
        app.render(records, PROBLEM_COLUMNS)
    errors = [p for p in problems if p.error]
    if errors:
        count = f"{len(errors)} error{'s' if len(errors) > 1 else ''}"
        raise InvalidPolicy(f"{path}: {count}; the first: {errors[0]}")
    app.notice(f"{path}: a valid policy" + (" (with warnings)" if problems else ""))


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


@access.command("check", epilog=exit_codes_epilog())
@click.argument("target", required=False, shell_complete=complete_target)
@target_options
@choice_options
@click.option(
    "--principal",
    metavar="ARN",
    help="The IAM user, role or group to check (default: you; for a role session, its role).",
)
@click.option(
    "--document", metavar="NAME", help="The session document (default SSM-SessionManagerRunShell)."
)
@common_options()
def check(
    app: App,
    target: str | None,
    tags: tuple[str, ...],
    group: str | None,
    pick: bool,
    first: bool,
    principal: str | None,
    document: str | None,
) -> int:
    """Can PRINCIPAL start a session on TARGET? Ask IAM's policy simulator and explain.

    TARGET is resolved as connect does (several matches: exit 3 unless --pick or
    --first), but need not be online. The simulator evaluates ssm:StartSession on the
    instance and on the document, with the instance's tags as ssm:resourceTag/<key>.
    Each resource gets a line: its decision (allowed, implicitDeny, explicitDeny), the
    statements that decided (policy, type, lines) and the context keys the policies
    test but the request lacks. Exits 0 when allowed and 6 when denied; 1 when the
    simulator cannot be asked (it needs iam:SimulatePrincipalPolicy).
    """
    from ssmctl.access.arns import principal_kind
    from ssmctl.access.check import check_access, resolve_principal

    if target is None and not tags and not group:
        raise UsageError("give a TARGET, --tag or --group")
    if principal and principal_kind(principal) not in ("user", "role", "group", "assumed-role"):
        raise UsageError(f"--principal {principal!r} is not an IAM user, role or group ARN")
    spec, _ = target_spec(app, target, tags, group)
    instance, aws = resolve_one(app, spec, pick=pick, first=first, require_online=False)
    identity = aws.identity()
    iam = aws.client("iam")
    who = resolve_principal(iam, principal or identity["Arn"])
    verdict = check_access(
        iam,
        who,
        instance,
        account=identity["Account"],
        document=document,
        partition=identity["Arn"].split(":")[1],
    )
    app.render(verdict.to_records(), CHECK_COLUMNS)
    app.notice(verdict.summary())
    return 0 if verdict.allowed else int(ExitStatus.CHECK_FAILED)
