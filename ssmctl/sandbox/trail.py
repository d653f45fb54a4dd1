"""The sandbox's CloudTrail event history: a store of records, and LookupEvents' rate limit.

Records are CloudTrail JSON records (dicts shaped like those in trail files). Anything may
add them with `TrailStore.add`: the sandbox adds one per Session Manager call it serves,
and a later seeding step can add historical ones. Subscribers see every added event
(e.g. to write trail files).
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

LOOKUP_DAYS = 90
LOOKUP_ATTRIBUTES = (
    "EventId",
    "EventName",
    "ReadOnly",
    "Username",
    "ResourceType",
    "ResourceName",
    "EventSource",
    "AccessKeyId",
)


def parse_event_time(text: str) -> dt.datetime:
    """CloudTrail's `eventTime` (`2025-06-11T07:56:17Z`) as an aware datetime."""
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def format_event_time(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass(frozen=True)
class TrailEvent:
    """A stored record and the fields LookupEvents indexes and returns."""

    record: Mapping[str, Any]
    event_id: str
    event_name: str
    event_time: dt.datetime
    event_source: str
    read_only: bool
    access_key_id: str
    username: str
    account_id: str
    region: str
    resources: tuple[tuple[str, str], ...]
    """(ResourceType, ResourceName) pairs."""

    @classmethod
    def from_record(
        cls, record: Mapping[str, Any], resources: Iterable[tuple[str, str]] | None = None
    ) -> TrailEvent:
        try:
            identity = record.get("userIdentity") or {}
            return cls(
                record=record,
                event_id=str(record["eventID"]),
                event_name=str(record["eventName"]),
                event_time=parse_event_time(str(record["eventTime"])),
                event_source=str(record["eventSource"]),
                read_only=bool(record.get("readOnly", False)),
                access_key_id=str(identity.get("accessKeyId", "")),
                username=_username(identity),
                account_id=str(record.get("recipientAccountId") or identity.get("accountId", "")),
                region=str(record["awsRegion"]),
                resources=tuple(resources if resources is not None else _resources(record)),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"not a CloudTrail record: {exc}") from None

    def matches(self, key: str, value: str) -> bool:
        """Whether this event matches one LookupEvents lookup attribute."""
        simple = {
            "EventId": self.event_id,
            "EventName": self.event_name,
            "ReadOnly": "true" if self.read_only else "false",
            "Username": self.username,
            "EventSource": self.event_source,
            "AccessKeyId": self.access_key_id,
        }
        if key in simple:
            return simple[key] == value
        if key == "ResourceType":
            return any(kind == value for kind, _ in self.resources)
        if key == "ResourceName":
            return any(name == value for _, name in self.resources)
        raise ValueError(f"unknown lookup attribute {key!r}")

    def to_api(self) -> dict[str, object]:
        """The LookupEvents `Event` structure."""
        out: dict[str, object] = {
            "EventId": self.event_id,
            "EventName": self.event_name,
            "ReadOnly": "true" if self.read_only else "false",
            "EventTime": self.event_time,
            "EventSource": self.event_source,
            "Resources": [{"ResourceType": t, "ResourceName": n} for t, n in self.resources],
            "CloudTrailEvent": json.dumps(self.record, separators=(",", ":")),
        }
        if self.access_key_id:
            out["AccessKeyId"] = self.access_key_id
        if self.username:
            out["Username"] = self.username
        return out

    @property
    def sort_key(self) -> tuple[dt.datetime, str]:
        return (self.event_time, self.event_id)


def _username(identity: Mapping[str, Any]) -> str:
    kind = identity.get("type")
    if kind == "IAMUser":
        return str(identity.get("userName", ""))
    if kind == "AssumedRole":
        return str(identity.get("arn", "")).rsplit("/", 1)[-1]
    if kind == "Root":
        return "root"
    return str(identity.get("userName", ""))


def _resources(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The resources LookupEvents lists for a Session Manager record: its target and document."""
    params = record.get("requestParameters") or {}
    out: list[tuple[str, str]] = []
    target = params.get("target")
    if isinstance(target, str) and target:
        kind = "AWS::SSM::ManagedInstance" if target.startswith("mi-") else "AWS::EC2::Instance"
        out.append((kind, target))
    document = params.get("documentName")
    if isinstance(document, str) and document:
        out.append(("AWS::SSM::Document", document))
    return out


class TrailStore:
    """Every CloudTrail record of the sandbox, ordered by event time (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[TrailEvent] = []
        self._keys: list[tuple[dt.datetime, str]] = []
        self._subscribers: list[Callable[[TrailEvent], None]] = []

    def add(
        self,
        record: Mapping[str, Any],
        resources: Iterable[tuple[str, str]] | None = None,
        *,
        notify: bool = True,
    ) -> TrailEvent:
        """Store one record (ValueError if it lacks eventID/eventName/eventTime/...).

        `notify=False` keeps it from subscribers (history that is delivered otherwise)."""
        event = TrailEvent.from_record(record, resources)
        with self._lock:
            index = bisect.bisect(self._keys, event.sort_key)
            self._keys.insert(index, event.sort_key)
            self._events.insert(index, event)
            subscribers = list(self._subscribers) if notify else []
        for callback in subscribers:
            callback(event)
        return event

    def add_many(
        self, records: Iterable[Mapping[str, Any]], *, notify: bool = True
    ) -> list[TrailEvent]:
        return [self.add(record, notify=notify) for record in records]

    def subscribe(self, callback: Callable[[TrailEvent], None]) -> None:
        """Call `callback(event)` for every event added from now on."""
        with self._lock:
            self._subscribers.append(callback)

    def events(self, account_id: str | None = None, region: str | None = None) -> list[TrailEvent]:
        """Stored events, oldest first, optionally of one account and region."""
        with self._lock:
            events = list(self._events)
        return [
            e
            for e in events
            if (account_id is None or e.account_id == account_id)
            and (region is None or e.region == region)
        ]

    def lookup(
        self,
        *,
        account_id: str,
        region: str,
        attribute: tuple[str, str] | None,
        start: dt.datetime | None,
        end: dt.datetime | None,
        now: dt.datetime,
    ) -> list[TrailEvent]:
        """LookupEvents' selection: the last 90 days, inclusive bounds, newest first."""
        horizon = now - dt.timedelta(days=LOOKUP_DAYS)
        low = max(start, horizon) if start else horizon
        chosen = [
            e
            for e in self.events(account_id, region)
            if e.event_time >= low
            and (end is None or e.event_time <= end)
            and (attribute is None or e.matches(*attribute))
        ]
        chosen.reverse()
        return chosen


class TokenBucket:
    """A rate limit: `rate` tokens per second, holding at most `burst` (thread-safe)."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Spend one token if there is one."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


def new_event_id() -> str:
    return str(uuid.uuid4())
