"""`ssmctl exec`: run a command on one instance, or on every match, natively."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ssmctl.cli.completers import complete_target
from ssmctl.cli.context import App
from ssmctl.cli.engine import startup_timeout_value
from ssmctl.cli.options import (
    choice_options,
    common_options,
    engine_option,
    startup_timeout_option,
    target_options,
)
from ssmctl.cli.registry import exit_codes_epilog
from ssmctl.cli.targeting import resolve_one, target_spec
from ssmctl.errors import TargetNotFound, UsageError
from ssmctl.models import Instance
from ssmctl.targets import TargetSpec

if TYPE_CHECKING:
    from ssmctl.aws import AwsContext

EPILOG = (
    "\b\nExit status: the remote command's (0-255). With --all: 0 when every instance\n"
    "exited 0, else the highest status among them; an instance whose session could not\n"
    "run counts with ssmctl's own code for that failure (listed below).\n\n" + exit_codes_epilog()
)


class _ExecCommand(click.Command):
    """Everything after the first `--` is the remote command, never ssmctl's options."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta["exec.command"] = tuple(args[cut + 1 :])
            args = args[:cut]
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return [self.options_metavar or "[OPTIONS]", "[TARGET]", "-- COMMAND [ARGS]..."]


@click.command("exec", cls=_ExecCommand, epilog=EPILOG)
@click.argument("target", required=False, shell_complete=complete_target)
@target_options
@choice_options
@click.option("--all", "all_", is_flag=True, help="Run on every matching instance at once.")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1, max=100),
    default=10,
    show_default=True,
    metavar="N",
    help="With --all: how many sessions run at the same time.",
)
@click.option(
    "--no-stdin",
    is_flag=True,
    help="Forward no input (as ssh -n); --all never forwards input.",
)
@click.option(
    "--reason",
    metavar="TEXT",
    help="Why you run it (1-256 chars; in DescribeSessions and CloudTrail).",
)
@startup_timeout_option
@engine_option
@common_options()
def exec_(
    app: App,
    target: str | None,
    tags: tuple[str, ...],
    group: str | None,
    pick: bool,
    first: bool,
    all_: bool,
    concurrency: int,
    no_stdin: bool,
    reason: str | None,
    startup_timeout: float | None,
    engine: str | None,
) -> int:
    """Run COMMAND on an instance: its stdout to stdout, its stderr to stderr, and its
    exit status as ssmctl's.

    \b
      ssmctl exec web-1 -- uptime
      ssmctl exec web-1 -- sh -c 'df -h | grep /data'
      tar c conf | ssmctl exec web-1 -- tar x -C /etc/app
      ssmctl exec --tag Role=web --all -- systemctl is-active nginx

    Put ssmctl's options before `--`; everything after it is the command. Each argument
    is quoted for the remote `sh`, so none can inject shell syntax: write `sh -c '...'`
    for pipes and redirections. Input is forwarded to the command as it comes; the
    protocol cannot signal its end, so a command reading to end of input waits (use
    --no-stdin, or a command that knows when to stop, such as `head -c N`).

    TARGET (or --tag/--group) must match one instance, as for connect (exit 3 with the
    candidates otherwise), unless --pick, --first, or --all: run everywhere at once,
    each output line prefixed with the instance (`web-1 | ...`).

    Runs with ssmctl's native engine, via AWS-StartNonInteractiveCommand with separate
    output streams: the official plugin can neither separate stderr nor return the
    remote exit status, so --engine plugin is refused. (`ssmctl run` uses Run Command
    instead: no session per instance, output when each finishes.)
    """
    from ssmctl.execute import exec_all, exec_one

    if engine == "plugin":
        raise UsageError(
            "exec needs the native engine: the session-manager-plugin cannot separate "
            "stderr or return the remote exit status (drop --engine plugin)"
        )
    command: tuple[str, ...] = click.get_current_context().meta.get("exec.command", ())
    if target is None and not tags and not group:
        raise UsageError("give a TARGET, --tag or --group, then -- COMMAND")
    if not command:
        raise UsageError("give the command to run after --, e.g. exec web-1 -- uptime")
    if all_ and (pick or first):
        raise UsageError("--all runs on every match; it cannot be combined with --pick/--first")
    spec, _ = target_spec(app, target, tags, group)
    timeout = startup_timeout_value(app, startup_timeout)
    if all_:
        instances, aws = _every_match(app, spec)
        return exec_all(
            aws,
            instances,
            command,
            reason=reason,
            startup_timeout=timeout,
            notice=app.notice,
            concurrency=concurrency,
        )
    instance, aws = resolve_one(app, spec, pick=pick, first=first)
    return exec_one(
        aws,
        instance,
        command,
        reason=reason,
        startup_timeout=timeout,
        notice=app.notice,
        stdin=not no_stdin,
    )


def _every_match(app: App, spec: TargetSpec) -> tuple[list[Instance], AwsContext]:
    """Every instance the target matches in the region (online or not: exec_all reports
    the unreachable ones as failures)."""
    from ssmctl.targets import resolve

    aws = app.aws()
    region = aws.region
    instances = resolve(spec, region=region, client=lambda service: aws.client(service, region))
    if not instances:
        raise TargetNotFound(f"no instance matches {spec.text} in {region}")
    return instances, aws
