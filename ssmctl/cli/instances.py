"""`ssmctl instances`: list and resolve instances."""

from __future__ import annotations

import click

from ssmctl.cli.columns import INSTANCE_COLUMNS
from ssmctl.cli.completers import complete_target
from ssmctl.cli.context import App
from ssmctl.cli.errors import failure_text
from ssmctl.cli.options import choice_options, common_options, target_options
from ssmctl.cli.registry import exit_codes_epilog
from ssmctl.cli.targeting import resolve_one, target_spec
from ssmctl.errors import UsageError


@click.group(epilog=exit_codes_epilog())
def instances() -> None:
    """List and resolve instances (EC2 and hybrid `mi-` nodes)."""


@instances.command("list", epilog=exit_codes_epilog())
@click.argument("target", required=False, shell_complete=complete_target)
@target_options
@common_options(fan_out=True)
def list_(app: App, target: str | None, tags: tuple[str, ...], group: str | None) -> int:
    """List instances with their SSM status, in one or more regions.

    TARGET is an instance id, a Name glob (web-*), Key=Value, an IP address, a DNS
    name or an @alias; without it every instance is listed. Machine formats use the
    field names in docs/output.md.
    """
    from ssmctl.inventory import find_instances

    spec, _ = target_spec(app, target, tags, group)
    aws = app.aws()
    regions = app.regions(aws)
    found = find_instances(aws, spec, regions)
    if found.failures and len(found.failures) == len(regions):
        raise found.failures[0][1]
    count = app.render((i.to_record() for i in found.instances), INSTANCE_COLUMNS)
    for region, error in found.failures:
        app.notice(f"ssmctl: warning: {region}: {failure_text(error)}")
    if count == 0 and app.settings.output == "table":
        app.notice(f"No instance matches {spec.text} in {', '.join(regions)}.")
    return 1 if found.failures else 0


@instances.command("resolve", epilog=exit_codes_epilog())
@click.argument("target", required=False, shell_complete=complete_target)
@target_options
@choice_options
@click.option("--any-state", is_flag=True, help="Accept an instance that is not online in SSM.")
@common_options()
def resolve_(
    app: App,
    target: str | None,
    tags: tuple[str, ...],
    group: str | None,
    pick: bool,
    first: bool,
    any_state: bool,
) -> None:
    """Resolve TARGET to exactly one instance, as `connect` would, and show it.

    Several matches fail (exit 3) and list the candidates unless --pick or --first.
    With --output text only the instance id is printed, for scripts.
    """
    if target is None and not tags and not group:
        raise UsageError("give a TARGET, --tag or --group")
    spec, _ = target_spec(app, target, tags, group)
    instance, _ = resolve_one(app, spec, pick=pick, first=first, require_online=not any_state)
    if app.settings.output == "text":
        app.stdout.write(instance.instance_id + "\n")
        return
    app.render([instance.to_record()], INSTANCE_COLUMNS)
