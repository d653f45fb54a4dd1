"""What the audit commands share: their filter options and the event and session streams
they build from them (the library does the work; this only wires options to it)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ssmctl.cli.context import App
from ssmctl.errors import UsageError
from ssmctl.settings import split_regions
from ssmctl.timespec import parse_time

if TYPE_CHECKING:
    from ssmctl.audit.events import AuditEvent
    from ssmctl.audit.query import EventQuery
    from ssmctl.audit.records import SessionRecord
    from ssmctl.audit.trail_files import S3Location
    from ssmctl.aws import AwsContext

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_SINCE = "24h"


def filter_options(*, events: bool = True) -> Callable[[F], F]:
    """--since, --until, --user, --target, --session-id, [--event], --trail, --account."""

    def decorate(func: F) -> F:
        options = [
            click.option(
                "--since",
                metavar="TIME",
                help=f"From TIME (2h, 7d, ISO 8601; UTC; default {DEFAULT_SINCE} ago).",
            ),
            click.option("--until", metavar="TIME", help="Up to TIME (default now)."),
            click.option(
                "--user",
                "users",
                metavar="USER",
                multiple=True,
                help="Only this caller (events) or owner (sessions): IAM user or role "
                "session name, SSO user or e-mail, an ARN, or 'me'. Repeat or 'a,b'.",
            ),
            click.option(
                "--target",
                "targets",
                metavar="TARGET",
                multiple=True,
                help="Only sessions on this target (an instance id, a Name, Key=Value, ...).",
            ),
            click.option(
                "--session-id",
                "session_ids",
                metavar="ID",
                multiple=True,
                help="Only this session.",
            ),
        ]
        if events:
            options.append(
                click.option(
                    "--event",
                    "event_names",
                    metavar="NAMES",
                    help="Only these events: start, resume, terminate (comma-separated).",
                )
            )
        options += [
            click.option(
                "--trail",
                metavar="S3URL",
                help="Read CloudTrail trail files from s3://BUCKET[/PREFIX] instead of "
                "LookupEvents (no rate limit, older than 90 days, every account of an "
                "organization trail; every region in it unless --region is given).",
            ),
            click.option(
                "--account",
                "accounts",
                metavar="ID",
                multiple=True,
                help="With --trail: only these accounts (default: every account in it).",
            ),
        ]
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def transcript_options(func: F) -> F:
    """--log-group and --bucket: where transcripts are, when not where the preferences say."""
    func = click.option(
        "--bucket",
        metavar="S3URL",
        help="Transcripts are in s3://BUCKET[/PREFIX] (<prefix>/<session-id>.log).",
    )(func)
    return click.option(
        "--log-group",
        metavar="GROUP",
        help="Transcripts are in this CloudWatch Logs group (stream = session id).",
    )(func)


@dataclasses.dataclass(frozen=True)
class Filters:
    """The audit filter options as given."""

    since: str | None = None
    until: str | None = None
    users: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    session_ids: tuple[str, ...] = ()
    event_names: str | None = None
    trail: str | None = None
    accounts: tuple[str, ...] = ()


@dataclasses.dataclass
class Plan:
    """Everything a command needs to read events: the query, where, and with what."""

    aws: AwsContext
    query: EventQuery
    regions: list[str]
    """The command's regions (LookupEvents and DescribeSessions are asked there)."""
    trail: S3Location | None
    trail_regions: tuple[str, ...]
    """Regions read in the trail (empty: every one in it)."""
    accounts: tuple[str, ...]
    notes: list[str]


def _split(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(v.strip() for value in values for v in value.split(",") if v.strip())


def plan(app: App, filters: Filters, *, since: dt.datetime | None = None) -> Plan:
    """Check the options and resolve users ('me') and targets before any event is read."""
    from ssmctl.audit.lookup import lookup_horizon
    from ssmctl.audit.query import EventQuery, parse_event_names
    from ssmctl.audit.trail_files import S3Location

    now = dt.datetime.now(dt.timezone.utc)
    start = since or parse_time(filters.since or DEFAULT_SINCE, now)
    end = parse_time(filters.until, now) if filters.until else now
    events = parse_event_names(filters.event_names) if filters.event_names else None
    trail = S3Location.parse(filters.trail) if filters.trail else None
    if filters.accounts and trail is None:
        raise UsageError("--account works with --trail (LookupEvents sees your account only)")
    aws = app.aws()
    users = _split(filters.users)
    if "me" in users:
        users = tuple(aws.identity()["Arn"] if u == "me" else u for u in users)
    regions = app.regions(aws)
    targets = _targets(app, aws, _split(filters.targets), regions)
    query_args: dict[str, Any] = {
        "since": start,
        "until": end,
        "users": users,
        "targets": targets,
        "session_ids": _split(filters.session_ids),
    }
    if events is not None:
        query_args["events"] = events
    query = EventQuery(**query_args)
    notes = []
    if trail is None and start < lookup_horizon(now):
        notes.append(
            "LookupEvents keeps the last 90 days: older events need --trail s3://... "
            "(the trail's bucket)"
        )
    trail_regions = split_regions(app.flags.regions) if app.flags.regions else ()
    return Plan(aws, query, regions, trail, trail_regions, filters.accounts, notes)


def _targets(
    app: App, aws: AwsContext, specs: Sequence[str], regions: Sequence[str]
) -> tuple[str, ...]:
    """Instance ids for --target values: an id as given (it may be gone), others resolved."""
    from ssmctl.targets import is_instance_id, parse_target, resolve

    ids: list[str] = []
    for text in specs:
        # An @alias stands for its target here; its profile and region do not apply.
        target = app.config.alias(text).target if text.startswith("@") else text
        if is_instance_id(target.lower()):
            ids.append(target.lower())
            continue
        spec = parse_target(target)
        before = len(ids)
        for region in regions:
            found = resolve(spec, region=region, client=_client_in(aws, region))
            ids += [i.instance_id for i in found]
        if len(ids) == before:
            raise UsageError(f"--target {text}: no instance matches in {', '.join(regions)}")
    return tuple(dict.fromkeys(ids))


def _client_in(aws: AwsContext, region: str) -> Callable[[str], Any]:
    return lambda service: aws.client(service, region)


def event_stream(
    plan_: Plan, *, keep_raw: bool = False, query: EventQuery | None = None
) -> Iterator[AuditEvent]:
    """The plan's events, oldest first, from the trail or from LookupEvents."""
    query = query or plan_.query
    aws = plan_.aws
    if plan_.trail is not None:
        from ssmctl.audit.trail_files import trail_events

        return trail_events(
            aws.client("s3"),
            plan_.trail,
            query,
            regions=plan_.trail_regions,
            accounts=plan_.accounts,
            keep_raw=keep_raw,
        )
    from ssmctl.audit.lookup import lookup_regions
    from ssmctl.audit.pacing import shared_pacer

    account = aws.identity()["Account"]
    return lookup_regions(
        lambda region: aws.client("cloudtrail", region, max_attempts=1),
        lambda region: shared_pacer("cloudtrail", account, region),
        plan_.regions,
        query,
        keep_raw=keep_raw,
    )


def session_stream(
    plan_: Plan,
    *,
    transcripts: bool = True,
    log_group: str | None = None,
    bucket: str | None = None,
) -> Iterator[SessionRecord]:
    """One record per session (events joined with DescribeSessions), in order of start,
    with target names and, unless `transcripts` is False, where each transcript is."""
    from ssmctl.audit.enrich import enrich
    from ssmctl.audit.history import session_history
    from ssmctl.audit.join import SessionFilter, join_sessions
    from ssmctl.audit.names import NameResolver
    from ssmctl.audit.trail_files import S3Location
    from ssmctl.audit.transcripts import TranscriptFinder, output_urls_of

    aws = plan_.aws
    query = plan_.query
    history = session_history(
        lambda region: aws.client("ssm", region), plan_.regions, query.since, query.until
    )
    # Sessions are kept by owner after the join: every event is read, so that someone
    # else's TerminateSession of a matching session is seen.
    events_query = dataclasses.replace(query, users=(), targets=(), session_ids=())
    keep = SessionFilter(query.users, query.targets, query.session_ids)
    records = join_sessions(
        event_stream(plan_, query=events_query),
        history,
        since=query.since,
        until=query.until,
        keep=keep,
    )
    finder = None
    if transcripts:
        finder = TranscriptFinder(
            aws.client,
            log_group=log_group,
            bucket=S3Location.parse(bucket) if bucket else None,
            output_urls=output_urls_of(list(history.values())),
        )
    names = NameResolver(aws.client)
    return enrich(records, names=names, finder=finder)
