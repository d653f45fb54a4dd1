"""Session Manager events from CloudTrail trail files in S3, oldest first.

A trail delivers gzipped `{"Records": [...]}` files, about every 5 minutes, under

    <prefix>/AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/
        <account>_CloudTrail_<region>_<yyyymmddThhmmZ>_<random>.json.gz

and, for an organization trail, `<prefix>/AWSLogs/<o-orgid>/<account>/CloudTrail/...`.
Accounts (and organizations) and regions are discovered with delimiter listings; then
only the day folders of the time range are listed, never the whole bucket. Reading is
not rate-limited like LookupEvents and reaches back beyond 90 days.

Order: the range is read one day at a time, every account and region together, each
day's events sorted (`ChronoSorter`, bounded memory) before the next day is read. A file
holds events from the minutes before its timestamp, so the first hour of the next day's
files is read as well for the events of the day; events delivered more than an hour late
come out with the day they were delivered (still exported, out of order). The day after
`until` is read whole; an event delivered more than a day after `until` is not read.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import functools
import gzip
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from ssmctl.audit.events import AuditEvent, is_session_event, normalise
from ssmctl.audit.query import EventFilter, EventQuery
from ssmctl.audit.spill import DEFAULT_CHUNK, dedupe_sorted, event_sorter
from ssmctl.errors import UsageError

T = TypeVar("T")
R = TypeVar("R")

_ACCOUNT = re.compile(r"^\d{12}$")
_ORGANIZATION = re.compile(r"^o-[a-z0-9]{10,32}$")
_FILE_STAMP = re.compile(r"_CloudTrail_[a-z0-9-]+_(\d{8}T\d{4}Z)_[^/]*$")
LOOKAHEAD = dt.timedelta(hours=1)
READ_AHEAD = 4
"""Trail files fetched at once; each is held parsed until its events are sorted in."""
_DAY = dt.timedelta(days=1)


@dataclasses.dataclass(frozen=True)
class S3Location:
    """A bucket and key prefix: `s3://bucket/prefix` (a trail's, or transcripts')."""

    bucket: str
    prefix: str = ""

    @classmethod
    def parse(cls, url: str) -> S3Location:
        match = re.fullmatch(r"s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])(/.*)?", url.strip())
        if not match:
            raise UsageError(f"bad S3 location {url!r}: expected s3://BUCKET or s3://BUCKET/PREFIX")
        return cls(match.group(1), (match.group(2) or "").strip("/"))

    @property
    def root(self) -> str:
        return f"{self.prefix}/AWSLogs/" if self.prefix else "AWSLogs/"

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"


@dataclasses.dataclass(frozen=True)
class TrailFile:
    key: str
    stamp: dt.datetime | None
    """The delivery time in the file name (None when the name is not CloudTrail's)."""
    size: int


@dataclasses.dataclass
class TrailStats:
    lists: int = 0
    files: int = 0
    bytes: int = 0
    records: int = 0
    """Records read, of every service, before filtering."""


def list_folders(s3: Any, bucket: str, prefix: str) -> list[str]:
    """The immediate sub-folder names under `prefix` (a delimiter listing)."""
    names: list[str] = []
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=prefix, Delimiter="/"
    )
    for page in pages:
        for common in page.get("CommonPrefixes", []):
            names.append(str(common["Prefix"])[len(prefix) :].rstrip("/"))
    return names


def account_folders(
    s3: Any, location: S3Location, accounts: Sequence[str] = ()
) -> list[tuple[str, str]]:
    """(account, folder) for every account the trail holds, organization trails included."""
    out: list[tuple[str, str]] = []
    for name in list_folders(s3, location.bucket, location.root):
        if _ACCOUNT.match(name):
            out.append((name, f"{location.root}{name}/"))
        elif _ORGANIZATION.match(name):
            org_root = f"{location.root}{name}/"
            out += [
                (account, f"{org_root}{account}/")
                for account in list_folders(s3, location.bucket, org_root)
                if _ACCOUNT.match(account)
            ]
    if not out:
        raise UsageError(
            f"no CloudTrail logs in {location}: expected {location.root}<account>/CloudTrail/ "
            f"or {location.root}<o-org-id>/<account>/CloudTrail/ (check the bucket and prefix)"
        )
    found = sorted(a for a, _ in out)
    if accounts:
        out = [(a, folder) for a, folder in out if a in accounts]
        if not out:
            raise UsageError(
                f"none of the accounts asked for is in {location} (it has {', '.join(found)})"
            )
    return out


def file_stamp(key: str) -> dt.datetime | None:
    match = _FILE_STAMP.search(key)
    if not match:
        return None
    return dt.datetime.strptime(match.group(1), "%Y%m%dT%H%MZ").replace(tzinfo=dt.timezone.utc)


def trail_events(
    s3: Any,
    location: S3Location,
    query: EventQuery,
    *,
    regions: Sequence[str] = (),
    accounts: Sequence[str] = (),
    keep_raw: bool = False,
    workers: int = 8,
    chunk: int = DEFAULT_CHUNK,
    stats: TrailStats | None = None,
) -> Iterator[AuditEvent]:
    """Session events in the trail that match `query`, oldest first (module docstring).

    `regions` / `accounts` restrict the folders read (default: every one found).
    """
    stats = stats if stats is not None else TrailStats()
    accept = EventFilter(query)
    bases = [
        f"{folder}CloudTrail/{region}/"
        for _, folder in account_folders(s3, location, accounts)
        for region in (regions or list_folders(s3, location.bucket, f"{folder}CloudTrail/"))
    ]
    if not bases:
        return
    first = query.since.date()
    last = query.until.date()
    with concurrent.futures.ThreadPoolExecutor(max(1, workers), "ssmctl-trail") as pool:

        def listing(day: dt.date) -> list[TrailFile]:
            prefixes = [f"{base}{day:%Y/%m/%d}/" for base in bases]
            found = bounded_map(pool, lambda p: _list_files(s3, location.bucket, p), prefixes)
            stats.lists += len(prefixes)
            return [f for files in found for f in files]

        current = listing(first)
        day = first
        while day <= last:
            following = listing(day + _DAY)
            wanted = list(_plan(day, first, last, current, following))
            sorter = event_sorter(chunk)
            read = bounded_map(
                pool, lambda item: _read(s3, location.bucket, item[0]), wanted, window=READ_AHEAD
            )
            for (trail_file, keep), records in zip(wanted, read, strict=True):
                stats.files += 1
                stats.bytes += trail_file.size
                for record in records:
                    stats.records += 1
                    if not is_session_event(record):
                        continue
                    event = _normalised(record, keep_raw)
                    if event is not None and query.in_range(event.time) and keep(event.time):
                        sorter.add(event)
            for event in dedupe_sorted(sorter.drain(), lambda e: e.sort_key):
                if accept(event):
                    yield event
            current = following
            day += _DAY


Keep = Callable[[dt.datetime], bool]


def _plan(
    day: dt.date,
    first: dt.date,
    last: dt.date,
    current: Sequence[TrailFile],
    following: Sequence[TrailFile],
) -> Iterator[tuple[TrailFile, Keep]]:
    """The files read for `day`, each with which of its events belong to this pass."""
    day_start = dt.datetime.combine(day, dt.time(), dt.timezone.utc)
    next_start = day_start + _DAY
    previous = day - _DAY
    for trail_file in current:
        early = trail_file.stamp is not None and trail_file.stamp < day_start + LOOKAHEAD
        if early and day > first:
            # Read yesterday as look-ahead: its events of yesterday are already out.
            yield trail_file, functools.partial(_not_on, previous)
        else:
            yield trail_file, _always
    for trail_file in following:
        if day == last:
            # No pass for the next day: everything in range is taken now.
            yield trail_file, _always
        elif trail_file.stamp is not None and trail_file.stamp < next_start + LOOKAHEAD:
            yield trail_file, functools.partial(_on, day)


def _always(_: dt.datetime) -> bool:
    return True


def _on(day: dt.date, when: dt.datetime) -> bool:
    return when.date() == day


def _not_on(day: dt.date, when: dt.datetime) -> bool:
    return when.date() != day


def _list_files(s3: Any, bucket: str, prefix: str) -> list[TrailFile]:
    files: list[TrailFile] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = str(item["Key"])
            if key.endswith((".json.gz", ".json")):
                files.append(TrailFile(key, file_stamp(key), int(item.get("Size", 0))))
    files.sort(key=lambda f: f.key)
    return files


def _read(s3: Any, bucket: str, trail_file: TrailFile) -> list[dict[str, Any]]:
    body = s3.get_object(Bucket=bucket, Key=trail_file.key)["Body"].read()
    return parse_trail_file(body, trail_file.key)


def parse_trail_file(body: bytes, name: str = "trail file") -> list[dict[str, Any]]:
    """The records of one trail file (gzipped or not)."""
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise UsageError(f"{name} is not a CloudTrail file: {exc}") from None
    records = document.get("Records") if isinstance(document, dict) else None
    if not isinstance(records, list):
        raise UsageError(f'{name} is not a CloudTrail file: no "Records" list')
    return [r for r in records if isinstance(r, dict)]


def _normalised(record: dict[str, Any], keep_raw: bool) -> AuditEvent | None:
    try:
        return normalise(record, keep_raw=keep_raw)
    except ValueError:
        return None  # no usable eventTime: not something an audit can place


def bounded_map(
    pool: concurrent.futures.Executor,
    work: Callable[[T], R],
    items: Iterable[T],
    window: int = 16,
) -> Iterator[R]:
    """`map(work, items)` on `pool`, in order, with at most `window` results pending."""
    pending: list[concurrent.futures.Future[R]] = []
    iterator = iter(items)
    try:
        for item in iterator:
            pending.append(pool.submit(work, item))
            if len(pending) >= window:
                yield pending.pop(0).result()
        while pending:
            yield pending.pop(0).result()
    finally:
        for future in pending:
            future.cancel()
