"""Dynamic shell completion of arguments: @aliases, instance names and ids, session ids.

Attached to parameters with `shell_complete=`. Each completer is silent: whatever goes
wrong (no credentials, no network, a bad config file) it offers nothing rather than
print into the user's shell. Importing this module is cheap; boto3 is imported only on
a cache miss (ssmctl/completion.py holds the cache).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import CompletionItem

from ssmctl.sanitize import terminal_safe

if TYPE_CHECKING:
    from ssmctl.completion import Candidate
    from ssmctl.settings import Settings

# Completion waits this long at most for AWS (connect, read), with no retries.
_TIMEOUTS = (2.0, 5.0)


def complete_target(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """TARGET: `@alias` names from the config file, instance names and ids from AWS."""
    items: list[Any] = []
    if incomplete == "" or incomplete.startswith("@"):
        items += _silently(lambda: _aliases(ctx, incomplete))
    if not incomplete.startswith("@"):
        items += _silently(lambda: _from_aws(ctx, incomplete, "instances"))
    return items


def complete_session_id(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """SESSION_ID: the active sessions of the selected region(s)."""
    return _silently(lambda: _from_aws(ctx, incomplete, "sessions"))


def _silently(produce: Callable[[], list[Any]]) -> list[Any]:
    try:
        return produce()
    except Exception:
        return []


def _settings(ctx: click.Context) -> Settings:
    """The settings the command would run with, from the options typed so far."""
    from ssmctl.settings import Flags, resolve_settings

    params = ctx.params
    flags = Flags(
        profile=params.get("profile"),
        regions=tuple(params.get("region") or ()),
        endpoint_url=params.get("endpoint_url"),
        config=params.get("config"),
    )
    return resolve_settings(flags, os.environ, stdout_isatty=False, fan_out=True)


def _aliases(ctx: click.Context, incomplete: str) -> list[Any]:
    config = _settings(ctx).config
    return [
        _item(f"@{name}", alias.target)
        for name, alias in sorted(config.aliases.items())
        if f"@{name}".startswith(incomplete)
    ]


def _from_aws(ctx: click.Context, incomplete: str, kind: str) -> list[Any]:
    from ssmctl.completion import (
        INSTANCES_TTL,
        SESSIONS_TTL,
        CompletionCache,
        cache_dir,
        cache_key,
        matching,
    )
    from ssmctl.regions import fan_out

    settings = _settings(ctx)
    env = os.environ
    cache = CompletionCache(cache_dir(env))
    ttl = INSTANCES_TTL if kind == "instances" else SESSIONS_TTL
    profile = settings.profile or env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or ""
    endpoint = settings.endpoint_url or env.get("AWS_ENDPOINT_URL") or ""

    def one_region(region: str) -> list[Candidate]:
        key = cache_key(
            kind,
            profile=profile,
            region=region,
            endpoint=endpoint,
            access_key=env.get("AWS_ACCESS_KEY_ID", ""),
        )
        return cache.fetch(key, ttl, lambda: _load(settings, region or None, kind))

    regions = list(settings.regions) or [""]
    found = [c for r in fan_out(regions, one_region) for c in (r.value or [])]
    return [_item(c.value, c.help) for c in matching(found, incomplete)]


def _load(settings: Settings, region: str | None, kind: str) -> list[Candidate]:
    from ssmctl.aws import AwsContext
    from ssmctl.completion import instance_candidates, session_candidates

    aws = AwsContext(
        profile=settings.profile,
        region=region,
        endpoint_url=settings.endpoint_url,
        max_attempts=1,
        timeouts=_TIMEOUTS,
    )
    if kind == "instances":
        return instance_candidates(aws.client("ec2"), aws.client("ssm"))
    return session_candidates(aws.client("ssm"))


def _item(value: str, help_text: str) -> Any:
    return CompletionItem(value, help=terminal_safe(help_text) or None)
