"""From command-line target arguments to instances: aliases, parsing, choosing one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ssmctl.cli.context import App
from ssmctl.config import Alias
from ssmctl.models import Instance
from ssmctl.targets import TargetSpec, parse_target

if TYPE_CHECKING:
    from ssmctl.aws import AwsContext


def expand_alias(app: App, target: str | None) -> tuple[str | None, Alias | None]:
    """`@name` -> the alias's target; the alias's profile/region now apply to `app`."""
    if target is None or not target.startswith("@"):
        return target, None
    alias = app.config.alias(target)
    app.use_alias(alias)
    return alias.target, alias


def target_spec(
    app: App, target: str | None, tags: Sequence[str], group: str | None
) -> tuple[TargetSpec, Alias | None]:
    text, alias = expand_alias(app, target)
    return parse_target(text, tags=tags, group=group), alias


def resolve_one(
    app: App,
    spec: TargetSpec,
    *,
    pick: bool,
    first: bool,
    require_online: bool = True,
) -> tuple[Instance, AwsContext]:
    """Resolve a single-target command's target in its region; returns (instance, aws)."""
    from ssmctl.selection import choose_one
    from ssmctl.targets import resolve

    aws = app.aws()
    region = aws.region
    instances = resolve(spec, region=region, client=lambda service: aws.client(service, region))
    picker = None
    if pick:
        if not (app.stdin_isatty and app.stderr_isatty):
            from ssmctl.errors import UsageError

            raise UsageError("--pick needs a terminal; use --first or name one instance")
        from ssmctl.cli.picker import pick_instance

        picker = pick_instance
    chosen = choose_one(
        instances, spec, region, first=first, pick=picker, require_online=require_online
    )
    return chosen, aws
