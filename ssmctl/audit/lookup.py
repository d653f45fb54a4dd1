"""Session Manager events from CloudTrail LookupEvents, oldest first, nothing lost.

LookupEvents answers newest first, 50 events a page, 2 calls per second per account and
region, the last 90 days only. To stream events oldest first in bounded memory the range
is walked in windows from old to new; each window's pages (of every lookup attribute,
`query.lookup_attributes`) are collected in a `ChronoSorter` (which spills to a temporary
file past a few thousand events) and come out sorted. Windows adapt: a quiet window
doubles the next one, a busy one halves it, so a sparse 90 days costs a handful of calls
and a busy hour does not sit in memory.

Every call is paced by the account's and region's shared `Pacer` and retried for the
same page until it succeeds (`pacing.call_paced`); a page that keeps failing stops the
stream with `AuditIncomplete`. Windows are whole seconds and do not overlap (CloudTrail
times are whole seconds; StartTime and EndTime are inclusive).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ssmctl.audit.events import AuditEvent, is_session_event, normalise
from ssmctl.audit.pacing import Pacer, RetryPolicy, call_paced
from ssmctl.audit.query import EventFilter, EventQuery, lookup_attributes
from ssmctl.audit.spill import DEFAULT_CHUNK, dedupe_sorted, event_sorter, merge_threads

LOOKUP_DAYS = 90
PAGE_SIZE = 50
_SECOND = dt.timedelta(seconds=1)


@dataclasses.dataclass(frozen=True)
class Windows:
    """How the time range is cut: start at `initial`, double below `low` events, halve
    above `high`, within [`smallest`, `largest`]."""

    initial: dt.timedelta = dt.timedelta(hours=6)
    smallest: dt.timedelta = dt.timedelta(minutes=1)
    largest: dt.timedelta = dt.timedelta(days=16)
    low: int = 2000
    high: int = 20000

    def next(self, size: dt.timedelta, seen: int) -> dt.timedelta:
        if seen < self.low:
            return min(self.largest, size * 2)
        if seen > self.high:
            return max(self.smallest, size / 2)
        return size


@dataclasses.dataclass
class LookupStats:
    """What one region's lookup cost (for progress lines and benchmarks)."""

    region: str
    calls: int = 0
    retries: int = 0
    records: int = 0
    """Events LookupEvents returned, before the client-side filters."""
    windows: int = 0


DEFAULT_POLICY = RetryPolicy()
DEFAULT_WINDOWS = Windows()


def lookup_horizon(now: dt.datetime | None = None) -> dt.datetime:
    """The oldest moment LookupEvents still returns (90 days ago)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return now - dt.timedelta(days=LOOKUP_DAYS)


def lookup_events(
    cloudtrail: Any,
    *,
    region: str,
    query: EventQuery,
    pacer: Pacer | None,
    policy: RetryPolicy = DEFAULT_POLICY,
    attribute: str = "auto",
    keep_raw: bool = False,
    windows: Windows = DEFAULT_WINDOWS,
    chunk: int = DEFAULT_CHUNK,
    stats: LookupStats | None = None,
    now: dt.datetime | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[AuditEvent]:
    """The session events of one region that match `query`, oldest first.

    `cloudtrail` is a client of `region` made without botocore retries (`max_attempts=1`):
    `pacer` paces and `policy` retries every call.
    """
    stats = stats if stats is not None else LookupStats(region)
    attributes = lookup_attributes(query, attribute)
    accept = EventFilter(query)
    start = _whole_second(max(query.since, lookup_horizon(now)))
    end = query.until
    size = windows.initial
    while start <= end:
        window_end = min(start + size - _SECOND, end)
        sorter = event_sorter(chunk)
        seen = 0
        for key, value in attributes:
            for record in _records(
                cloudtrail, key, value, start, window_end, pacer, policy, stats, region, sleep
            ):
                seen += 1
                if is_session_event(record):
                    sorter.add(normalise(record, keep_raw=keep_raw))
        stats.windows += 1
        for event in dedupe_sorted(sorter.drain(), lambda e: e.sort_key):
            if accept(event):
                yield event
        size = windows.next(size, seen)
        start = window_end + _SECOND


def _records(
    cloudtrail: Any,
    key: str,
    value: str,
    start: dt.datetime,
    end: dt.datetime,
    pacer: Pacer | None,
    policy: RetryPolicy,
    stats: LookupStats,
    region: str,
    sleep: Callable[[float], None],
) -> Iterator[dict[str, Any]]:
    request: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": key, "AttributeValue": value}],
        "StartTime": start,
        "EndTime": end,
        "MaxResults": PAGE_SIZE,
    }
    page = 0
    while True:
        page += 1
        what = (
            f"CloudTrail LookupEvents {region} {key}={value} "
            f"{_stamp(start)}..{_stamp(end)} page {page}"
        )

        def retried(_: BaseException) -> None:
            stats.retries += 1

        response = call_paced(
            lambda: cloudtrail.lookup_events(**request),
            pacer=pacer,
            policy=policy,
            what=what,
            sleep=sleep,
            on_retry=retried,
        )
        stats.calls += 1
        for event in response.get("Events", []):
            stats.records += 1
            text = event.get("CloudTrailEvent")
            if not text:
                continue
            record = json.loads(text)
            if isinstance(record, dict):
                yield record
        token = response.get("NextToken")
        if not token:
            return
        request["NextToken"] = token


def lookup_regions(
    client_for: Callable[[str], Any],
    pacer_for: Callable[[str], Pacer | None],
    regions: Sequence[str],
    query: EventQuery,
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    attribute: str = "auto",
    keep_raw: bool = False,
    stats: dict[str, LookupStats] | None = None,
) -> Iterator[AuditEvent]:
    """Several regions at once (a thread each, each at its own pace), merged oldest first."""

    def source(region: str) -> Callable[[], Iterator[AuditEvent]]:
        region_stats = LookupStats(region)
        if stats is not None:
            stats[region] = region_stats
        return lambda: lookup_events(
            client_for(region),
            region=region,
            query=query,
            pacer=pacer_for(region),
            policy=policy,
            attribute=attribute,
            keep_raw=keep_raw,
            stats=region_stats,
        )

    return merge_threads([source(r) for r in regions], key=lambda e: e.sort_key)


def _whole_second(value: dt.datetime) -> dt.datetime:
    return value.replace(microsecond=0)


def _stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
