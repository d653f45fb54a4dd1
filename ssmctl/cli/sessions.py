"""`ssmctl sessions`: list and terminate sessions, in one or more regions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from ssmctl.cli.columns import TERMINATE_COLUMNS, session_columns
from ssmctl.cli.completers import complete_session_id, complete_target
from ssmctl.cli.context import App
from ssmctl.cli.errors import failure_text
from ssmctl.cli.options import common_options
from ssmctl.cli.registry import exit_codes_epilog
from ssmctl.cli.targeting import expand_alias
from ssmctl.errors import UsageError
from ssmctl.models import SessionInfo
from ssmctl.timespec import parse_duration, parse_time

if TYPE_CHECKING:
    from ssmctl.aws import AwsContext


@click.group(epilog=exit_codes_epilog())
def sessions() -> None:
    """List and terminate Session Manager sessions."""


@sessions.command("list", epilog=exit_codes_epilog())
@click.option(
    "--history", is_flag=True, help="Ended sessions (the last 30 days) instead of active ones."
)
@click.option(
    "--owner", metavar="me|ARN", help="Only sessions started by this IAM ARN ('me': the caller)."
)
@click.option(
    "--target",
    metavar="TARGET",
    help="Only sessions on this target (any target form).",
    shell_complete=complete_target,
)
@click.option("--since", metavar="TIME", help="Started at or after TIME (2h, 7d, ISO 8601; UTC).")
@click.option("--until", metavar="TIME", help="Started at or before TIME.")
@click.option(
    "--status",
    metavar="STATUS",
    help="Connected, Connecting, Disconnected, Terminating, Terminated or Failed.",
)
@common_options(fan_out=True)
def list_(
    app: App,
    history: bool,
    owner: str | None,
    target: str | None,
    since: str | None,
    until: str | None,
    status: str | None,
) -> int:
    """List active sessions (or, with --history, ended ones)."""
    from ssmctl.regions import fan_out
    from ssmctl.sessions import build_query, list_sessions

    now = dt.datetime.now(dt.timezone.utc)
    start = parse_time(since, now) if since else None
    end = parse_time(until, now) if until else None
    # Validate the combination before any call, so a bad --status fails fast.
    build_query(history=history, status=status, owner=None, targets=[], since=start, until=end)
    target = expand_alias(app, target)[0] if target else None
    aws = app.aws()
    regions = app.regions(aws)
    owner_arn = aws.identity()["Arn"] if owner == "me" else owner

    def work(region: str) -> list[SessionInfo]:
        targets = _target_ids(aws, target, region) if target else []
        if target and not targets:
            return []
        query = build_query(
            history=history, status=status, owner=owner_arn, targets=targets, since=start, until=end
        )
        return list(list_sessions(aws.client("ssm", region), region, query))

    results = fan_out(regions, work)
    failures = [r for r in results if r.error is not None]
    if failures and len(failures) == len(regions) and failures[0].error is not None:
        raise failures[0].error
    found = [s for r in results for s in (r.value or [])]
    found.sort(key=lambda s: s.start or now, reverse=True)
    count = app.render((s.to_record() for s in found), session_columns(now))
    for failure in failures:
        app.notice(f"ssmctl: warning: {failure.region}: {failure_text(failure.error)}")
    if count == 0 and app.settings.output == "table":
        kind = "ended" if history else "active"
        app.notice(f"No {kind} sessions in {', '.join(regions)}.")
    return 1 if failures else 0


@sessions.command("terminate", epilog=exit_codes_epilog())
@click.argument(
    "session_ids", nargs=-1, metavar="[SESSION_ID]...", shell_complete=complete_session_id
)
@click.option(
    "--target",
    metavar="TARGET",
    help="Every active session on this target.",
    shell_complete=complete_target,
)
@click.option("--mine", is_flag=True, help="Every active session you started.")
@click.option(
    "--older-than", metavar="DURATION", help="Only sessions started longer ago (30m, 2h, 1d)."
)
@click.option(
    "--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed when not on a terminal)."
)
@common_options(fan_out=True)
def terminate(
    app: App,
    session_ids: tuple[str, ...],
    target: str | None,
    mine: bool,
    older_than: str | None,
    yes: bool,
) -> int:
    """Terminate sessions by id, by target, or your own (--mine).

    Shows what will be terminated and asks first on a terminal; refuses without --yes
    when not on a terminal. Prints one result per session; exits 1 if any failed.
    """
    from ssmctl.regions import fan_out
    from ssmctl.sessions import SessionQuery, list_sessions, terminate_many

    if not (session_ids or target or mine):
        raise UsageError("name SESSION_IDs, or use --target or --mine")
    if session_ids and (target or mine):
        raise UsageError("give SESSION_IDs or --target/--mine, not both")
    age = parse_duration(older_than) if older_than else None
    if not yes and not (app.stdin_isatty and app.stderr_isatty):
        raise UsageError("refusing to terminate sessions without --yes when not on a terminal")
    now = dt.datetime.now(dt.timezone.utc)
    target = expand_alias(app, target)[0] if target else None
    aws = app.aws()
    regions = app.regions(aws)
    owner = aws.identity()["Arn"] if mine else None

    def work(region: str) -> list[SessionInfo]:
        targets = _target_ids(aws, target, region) if target else []
        if target and not targets:
            return []
        query = SessionQuery(owner=owner, targets=tuple(targets))
        return list(list_sessions(aws.client("ssm", region), region, query))

    results = fan_out(regions, work)
    failures = [r for r in results if r.error is not None]
    if failures and failures[0].error is not None and len(failures) == len(regions):
        raise failures[0].error
    for failure in failures:
        app.notice(f"ssmctl: warning: {failure.region}: {failure_text(failure.error)}")
    active = [s for r in results for s in (r.value or [])]
    missing: list[str] = []
    if session_ids:
        by_id = {s.session_id: s for s in active}
        missing = [i for i in session_ids if i not in by_id]
        active = [by_id[i] for i in session_ids if i in by_id]
    if age is not None:
        active = [s for s in active if s.start is not None and now - s.start >= age]
    chosen = _dedupe(active)
    for session_id in missing:
        app.notice(f"ssmctl: {session_id}: not an active session in {', '.join(regions)}")
    if not chosen:
        if not missing:
            app.notice("No matching active sessions.")
        return 1 if missing or failures else 0
    if not yes and not _confirm(app, chosen, now):
        app.notice("Nothing terminated.")
        return 130
    outcome = terminate_many(lambda region: aws.client("ssm", region), chosen)
    app.render((r.to_record() for r in outcome), TERMINATE_COLUMNS)
    ok = all(r.ok for r in outcome) and not missing and not failures
    return 0 if ok else 1


def _dedupe(sessions_: Sequence[SessionInfo]) -> list[SessionInfo]:
    seen: set[tuple[str, str]] = set()
    out = []
    for session in sessions_:
        key = (session.region, session.session_id)
        if key not in seen:
            seen.add(key)
            out.append(session)
    return out


def _confirm(app: App, chosen: Sequence[SessionInfo], now: dt.datetime) -> bool:
    from ssmctl.output import render

    app.notice(f"About to terminate {len(chosen)} session(s):")
    render(
        (s.to_record() for s in chosen),
        "table",
        session_columns(now),
        app.stderr,
        color=app.settings.color,
    )
    return click.confirm("Terminate them?", default=False, err=True)


def _target_ids(aws: AwsContext, target: str, region: str) -> list[str]:
    """Instance ids for a --target: a literal id passes through (it may no longer exist)."""
    from ssmctl.targets import is_instance_id, parse_target, resolve

    if is_instance_id(target.lower()):
        return [target.lower()]
    spec = parse_target(target)
    found = resolve(spec, region=region, client=lambda service: aws.client(service, region))
    return [i.instance_id for i in found]
