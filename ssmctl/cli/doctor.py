"""`ssmctl doctor`: is everything in place to start a session (on TARGET)?"""

from __future__ import annotations

import click

from ssmctl.cli.completers import complete_target
from ssmctl.cli.context import App
from ssmctl.cli.options import common_options, target_options
from ssmctl.cli.registry import exit_codes_epilog
from ssmctl.cli.targeting import target_spec
from ssmctl.errors import ExitStatus, UsageError
from ssmctl.output import Column

_STYLES = {"OK": "green", "WARN": "yellow", "FAIL": "red", "SKIP": "dim"}
COLUMNS = (
    Column("check", "CHECK"),
    Column("verdict", "VERDICT", style=lambda v: _STYLES.get(str(v))),
    Column("reason", "REASON"),
)


@click.command(epilog=exit_codes_epilog())
@click.argument("target", required=False, shell_complete=complete_target)
@target_options
@click.option(
    "--principal",
    metavar="ARN",
    help="Whose access to check on TARGET (default: you; for a role session, its role).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Give each check this long.",
)
@common_options()
def doctor(
    app: App,
    target: str | None,
    tags: tuple[str, ...],
    group: str | None,
    principal: str | None,
    timeout: float,
) -> int:
    """Check that sessions can start: one line per check, OK, WARN or FAIL with why.

    Checks the session-manager-plugin (a missing one is a WARN: the native engine is
    used), the region, that the SSM endpoint is reachable, the credentials (sts
    GetCallerIdentity), the SSM-SessionManagerRunShell preferences (present, default
    version is the latest) and whether session output is logged. With TARGET (any
    target form, one instance): that SSM sees it Online with a recent ping, and that
    IAM allows you StartSession on it (WARN if you may not ask IAM's simulator).
    Independent checks run at once; SKIP means a check it needs failed. Exits 6 when
    any check FAILs, else 0.
    """
    from ssmctl.access.arns import principal_kind
    from ssmctl.doctor import FAIL, DoctorContext, run_doctor

    if principal and principal_kind(principal) not in ("user", "role", "group", "assumed-role"):
        raise UsageError(f"--principal {principal!r} is not an IAM user, role or group ARN")
    spec = None
    if target is not None or tags or group:
        spec, _ = target_spec(app, target, tags, group)
    settings = app.settings
    context = DoctorContext(
        aws=app.aws(),
        env=app.env,
        plugin_path=app.config.plugin_path,
        region_source=_region_source(app),
        target=spec,
        principal=principal,
    )
    results = run_doctor(context, timeout=timeout)
    app.render((r.to_record() for r in results), COLUMNS)
    failed = [r for r in results if r.verdict == FAIL]
    if failed and settings.output == "table":
        app.notice(f"{len(failed)} check(s) failed: {', '.join(r.name for r in failed)}")
    return int(ExitStatus.CHECK_FAILED) if failed else 0


def _region_source(app: App) -> str:
    if app.flags.regions:
        return "--region"
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if app.env.get(name):
            return name
    if app.config.region:
        return "the config file"
    return "the AWS profile"
