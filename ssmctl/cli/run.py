"""`ssmctl run TARGETS -- COMMAND`: Run Command on many instances, output as it comes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import click

from ssmctl.cli.completers import complete_target
from ssmctl.cli.context import App
from ssmctl.cli.options import common_options, target_options
from ssmctl.cli.registry import exit_codes_epilog
from ssmctl.cli.targeting import expand_alias
from ssmctl.errors import ExitStatus, TargetError, TargetNotFound, UsageError
from ssmctl.targets import TargetSpec, is_instance_id, parse_tag, parse_target

_COMMAND = "ssmctl.run.command"


class _RunCommand(click.Command):
    """Everything after `--` is the command to run, not more targets."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            split = args.index("--")
            ctx.meta[_COMMAND] = args[split + 1 :]
            args = args[:split]
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return [*super().collect_usage_pieces(ctx), "-- COMMAND..."]


@click.command("run", cls=_RunCommand, epilog=exit_codes_epilog())
@click.argument("targets", nargs=-1, shell_complete=complete_target)
@target_options
@click.option(
    "--max-concurrency",
    metavar="N|N%",
    help="Instances running the command at once: a number or a percentage (AWS default 50).",
)
@click.option(
    "--max-errors",
    metavar="N|N%",
    help="Failures allowed before the command is sent to no more instances "
    "(AWS default 0: none after the first failure).",
)
@click.option(
    "--timeout",
    type=click.IntRange(1, 172_800),
    metavar="SECONDS",
    help="Execution timeout on each instance (TimedOut after it); also bounds how long "
    "ssmctl waits.",
)
@click.option("--comment", metavar="TEXT", help="A comment on the command (up to 100 characters).")
@click.option(
    "--raw", is_flag=True, help="Pass the remote output to the terminal as it is (no escaping)."
)
@common_options()
def run(
    app: App,
    targets: tuple[str, ...],
    tags: tuple[str, ...],
    group: str | None,
    max_concurrency: str | None,
    max_errors: str | None,
    timeout: int | None,
    comment: str | None,
    raw: bool,
) -> int:
    """Run a shell command on many instances with Run Command (SendCommand).

    TARGETS are instance ids, Name globs, Key=Value tags, IP addresses, DNS names or
    @aliases (each adds instances); --tag and --group narrow them or select on their own.
    COMMAND follows `--`; its words are joined with spaces, as ssh does. Linux and macOS
    instances run it with AWS-RunShellScript, Windows ones with AWS-RunPowerShellScript.
    Instances that are not online in SSM are skipped and reported.

    Each instance's output is shown as it completes, as `NAME | line` (stderr: `NAME !
    line`); --output json/jsonl/yaml/csv gives one record per instance instead. A summary
    goes to stderr. Exit status 0 only when every targeted instance succeeded (see
    docs/run.md). Ctrl-C cancels the command.

    \b
    Examples:
      ssmctl run web-1 web-2 -- uptime
      ssmctl run --tag Role=web --max-concurrency 10% --max-errors 1 -- 'systemctl restart app'
      ssmctl run --group app-stack --timeout 60 -o jsonl -- df -h /
    """
    from ssmctl.runcommand.options import run_options
    from ssmctl.runcommand.plan import find_targets, make_plan, targets_key
    from ssmctl.runcommand.results import Summary
    from ssmctl.runcommand.watch import Watch

    words = click.get_current_context().meta.get(_COMMAND)
    if not words:
        raise UsageError("put the command to run after --, e.g. ssmctl run web-1 -- uptime")
    if not targets and not tags and not group:
        raise UsageError("give TARGETS, --tag or --group (run never targets every instance)")
    options = run_options(
        " ".join(words),
        max_concurrency=max_concurrency,
        max_errors=max_errors,
        timeout=timeout,
        comment=comment,
    )
    specs = _specs(app, targets, tags, group)
    aws = app.aws()
    region = aws.region
    instances, missing = find_targets(
        specs, region=region, client=lambda service: aws.client(service, region)
    )
    shown = " ".join(s.text for s in specs)
    if not instances and not missing:
        raise TargetNotFound(f"no instance matches {shown} in {region}")
    plan = make_plan(region, instances, missing=missing, targets=targets_key(specs))
    if not plan.sends:
        why = "; ".join(f"{s.name or s.instance_id}: {s.reason}" for s in plan.skipped)
        raise TargetError(f"no instance that {shown} matches can run the command ({why})")
    watch = Watch(aws.client("ssm", region), plan, options, notice=_notice(app))
    summary = Summary()
    interrupted = False

    def results() -> Iterator[Any]:
        nonlocal interrupted
        try:
            for result in watch.results():
                summary.add(result)
                yield result
        except KeyboardInterrupt:
            interrupted = True
            app.notice("ssmctl: interrupted: cancelling the command")
            for result in watch.cancel():
                summary.add(result)
                yield result

    try:
        _show(app, results(), [i.name or i.instance_id for i in instances], raw=raw)
    except KeyboardInterrupt:
        interrupted = True
        for result in watch.cancel():
            summary.add(result)
    summary.command_ids = list(watch.command_ids)
    for line in summary.lines():
        app.notice(f"ssmctl: {line}" if not line.startswith(" ") else line)
    return int(ExitStatus.INTERRUPTED if interrupted else summary.exit_status())


def _specs(
    app: App, targets: Sequence[str], tags: Sequence[str], group: str | None
) -> list[TargetSpec]:
    """One spec for all plain instance ids, one per other target; --tag/--group in each."""
    texts: list[str] = []
    chosen = None
    for target in targets:
        text, alias = expand_alias(app, target)
        if alias is not None and (alias.profile, alias.region) != (None, None):
            where = (alias.profile, alias.region)
            if chosen is not None and chosen != where:
                raise UsageError("the aliases name different profiles or regions: run them apart")
            chosen = where
        texts.append(text or "")
    ids = [t.lower() for t in texts if is_instance_id(t.strip().lower())]
    others = [t for t in texts if not is_instance_id(t.strip().lower())]
    specs = [parse_target(t, tags=tags, group=group) for t in others]
    if ids:
        shown = " ".join(
            [*ids, *(f"--tag {t}" for t in tags), *([f"--group {group}"] * bool(group))]
        )
        specs.append(
            TargetSpec(
                text=shown,
                instance_ids=tuple(dict.fromkeys(i.strip() for i in ids)),
                tags=tuple(parse_tag(t) for t in tags),
                group=group,
            )
        )
    return specs or [parse_target(None, tags=tags, group=group)]


def _notice(app: App) -> Any:
    return lambda text: app.notice(f"ssmctl: {text}")


def _show(app: App, results: Iterator[Any], labels: list[str], *, raw: bool) -> None:
    settings = app.settings
    if settings.output in ("table", "text"):
        from ssmctl.cli.run_output import LinePrinter

        printer = LinePrinter(app.stdout, app.stderr, labels, raw=raw, color=settings.color)
        for result in results:
            printer.show(result)
        return
    from ssmctl.cli.run_output import RUN_COLUMNS

    app.render((r.to_record() for r in results), RUN_COLUMNS)
