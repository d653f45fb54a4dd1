"""Joining session events and DescribeSessions entries into one record per session.

Events come in time order (any source). A session's record is built from

- its StartSession event: who (ARN, type, name, MFA), from where (IP, user agent), the
  target, document, parameters, reason, the start;
- its ResumeSession events (counted while the session ran);
- the TerminateSession event that ended it: who terminated it;
- its DescribeSessions entry (last 30 days): status, end, Details, MaxSessionDuration.

A record is complete once its session is known to have ended: a TerminateSession event,
or a DescribeSessions end a few minutes behind the events (a late TerminateSession could
still name who ended it). Records come out in order of start; a session still open holds
back the ones that started after it (memory: the sessions in flight, plus the ids of
those already out). Sessions DescribeSessions knows but no event names (the events are
in a region or trail not read) are emitted too, from the entry alone.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence

from ssmctl.audit.events import DEFAULT_DOCUMENT, AuditEvent, session_owner_name
from ssmctl.audit.query import owner_matches
from ssmctl.audit.records import SessionRecord
from ssmctl.models import SessionInfo

ACTIVE = ("Connected", "Connecting", "Disconnected", "Terminating")
SETTLE = dt.timedelta(minutes=5)
_TERMINATE_SLACK = dt.timedelta(seconds=5)

# DescribeSessions Details sentences (the sandbox writes these; AWS may say similar) and
# how the session ended, checked in this order.
_DETAIL_HINTS = (
    ("idlesessiontimeout", "idle timeout"),
    ("idle", "idle timeout"),
    ("maxsessionduration", "maximum duration"),
    ("maximum duration", "maximum duration"),
    ("terminatesession flag", "client"),
    ("client ended", "client"),
    ("terminated by terminatesession", "terminated"),
    ("exited with status", "exit"),
    ("closed", "exit"),
)
ENDINGS = ("exit", "client", "terminated", "idle timeout", "maximum duration", "failed", "unknown")


@dataclasses.dataclass
class _Session:
    key: tuple[str, str]
    """(region, session id)."""
    account: str | None
    order: dt.datetime
    start: AuditEvent | None = None
    resumes: list[AuditEvent] = dataclasses.field(default_factory=list)
    terminate: AuditEvent | None = None
    info: SessionInfo | None = None
    complete: bool = False


@dataclasses.dataclass(frozen=True)
class SessionFilter:
    """Which sessions to keep: owner (user name or ARN), target, session id."""

    users: tuple[str, ...] = ()
    targets: tuple[str, ...] = ()
    session_ids: tuple[str, ...] = ()

    def __call__(self, record: SessionRecord) -> bool:
        if self.session_ids and record.session_id not in self.session_ids:
            return False
        if self.targets and record.target not in self.targets:
            return False
        return owner_matches(self.users, record.session_id, record.user_arn) or (
            record.user_name is not None
            and any(u.lower() == record.user_name.lower() for u in self.users)
        )


class SessionJoiner:
    """Feed events in time order; take complete `SessionRecord`s as they are ready.

    `history` maps (region, session id) to DescribeSessions entries; those that start in
    [`since`, `until`] are emitted even without events.
    """

    def __init__(
        self,
        history: Mapping[tuple[str, str], SessionInfo] | None = None,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        keep: SessionFilter | None = None,
        settle: dt.timedelta = SETTLE,
    ) -> None:
        self._history = dict(history or {})
        self._pending = sorted(
            (
                info
                for info in self._history.values()
                if info.start is not None
                and (since is None or info.start >= since)
                and (until is None or info.start <= until)
            ),
            key=lambda i: (i.start, i.session_id),
            reverse=True,
        )
        self._keep = keep or SessionFilter()
        self._settle = settle
        self._open: dict[tuple[str, str], _Session] = {}
        self._heap: list[tuple[dt.datetime, int, tuple[str, str]]] = []
        self._seq = itertools.count()
        self._emitted: set[tuple[str, str]] = set()
        self._ending: list[tuple[dt.datetime, tuple[str, str]]] = []
        """(when its DescribeSessions end has settled, key) of open sessions."""

    def feed(self, event: AuditEvent) -> Iterator[SessionRecord]:
        """Take one event (in time order); returns the records now complete."""
        self._admit_history(event.time - self._settle)
        if event.session_id and not (event.event == "StartSession" and event.failed):
            key = (event.region, event.session_id)
            if key not in self._emitted:
                session = self._session(key, event.account or None, event.time)
                if event.event == "StartSession":
                    session.start = event
                elif event.failed:
                    pass  # a refused Resume or Terminate changed nothing
                elif event.event == "ResumeSession":
                    session.resumes.append(event)
                elif event.event == "TerminateSession" and session.terminate is None:
                    session.terminate = event
                    session.complete = True
        self._settle_ended(event.time)
        return self._ready()

    def finish(self) -> Iterator[SessionRecord]:
        """Every record still held, in order of start (the stream has ended)."""
        self._admit_history(None)
        for session in self._open.values():
            session.complete = True
        return self._ready()

    def _session(self, key: tuple[str, str], account: str | None, when: dt.datetime) -> _Session:
        session = self._open.get(key)
        if session is None:
            info = self._history.pop(key, None)
            order = info.start if info is not None and info.start is not None else when
            session = _Session(key, account, order, info=info)
            self._open[key] = session
            heapq.heappush(self._heap, (order, next(self._seq), key))
            ended = info.end or info.start if info is not None else None
            if info is not None and info.status not in ACTIVE and ended is not None:
                heapq.heappush(self._ending, (ended + self._settle, key))
        return session

    def _admit_history(self, before: dt.datetime | None) -> None:
        """Sessions DescribeSessions knows, started before `before`, that no event named."""
        while self._pending:
            info = self._pending[-1]
            assert info.start is not None
            if before is not None and info.start >= before:
                return
            self._pending.pop()
            key = (info.region, info.session_id)
            if key in self._history and key not in self._open and key not in self._emitted:
                self._session(key, None, info.start)

    def _settle_ended(self, now: dt.datetime) -> None:
        while self._ending and self._ending[0][0] <= now:
            _, key = heapq.heappop(self._ending)
            session = self._open.get(key)
            if session is not None:
                session.complete = True

    def _ready(self) -> Iterator[SessionRecord]:
        out: list[SessionRecord] = []
        while self._heap:
            key = self._heap[0][2]
            session = self._open[key]
            if not session.complete:
                break
            heapq.heappop(self._heap)
            del self._open[key]
            self._emitted.add(key)
            record = build_record(
                session.key,
                session.account,
                session.start,
                session.resumes,
                session.terminate,
                session.info,
            )
            if self._keep(record):
                out.append(record)
        return iter(out)


def join_sessions(
    events: Iterable[AuditEvent],
    history: Mapping[tuple[str, str], SessionInfo] | None = None,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    keep: SessionFilter | None = None,
) -> Iterator[SessionRecord]:
    """All the records of an event stream, in order of start (see SessionJoiner)."""
    joiner = SessionJoiner(history, since=since, until=until, keep=keep)
    for event in events:
        yield from joiner.feed(event)
    yield from joiner.finish()


def build_record(
    key: tuple[str, str],
    account: str | None,
    start: AuditEvent | None,
    resumes: Sequence[AuditEvent],
    terminate: AuditEvent | None,
    info: SessionInfo | None,
) -> SessionRecord:
    """One session's record from what is known of it (any part may be missing)."""
    region, session_id = key
    status = info.status if info is not None else ("Terminated" if terminate else None)
    began = start.time if start is not None else (info.start if info else None)
    end = info.end if info is not None and info.end is not None else None
    if end is None and terminate is not None:
        end = terminate.time
    ended_by, terminated_by = how_it_ended(
        status=status,
        details=info.details if info else None,
        terminate=terminate,
        start=began,
        end=end,
        max_minutes=_minutes(info.max_session_duration if info else None),
    )
    if status in ACTIVE:
        end = None
    document = start.document or DEFAULT_DOCUMENT if start is not None else None
    return SessionRecord(
        session_id=session_id,
        region=region,
        account=account or (start.account if start else None),
        user_arn=start.user_arn if start else (info.owner or None if info else None),
        user_type=start.user_type if start else None,
        user_name=start.user_name if start else session_owner_name(session_id),
        mfa=start.mfa if start else None,
        source_ip=start.source_ip if start else None,
        user_agent=start.user_agent if start else None,
        target=(start.target if start else None) or (info.target if info else None),
        document=document or (info.document if info else None),
        parameters=dict(start.parameters) if start else {},
        reason=(start.reason if start else None) or (info.reason if info else None),
        start=began,
        end=end,
        status=status,
        ended_by=ended_by,
        terminated_by=terminated_by,
        end_details=info.details if info else None,
        resumes=sum(1 for r in resumes if end is None or r.time <= end),
    )


def how_it_ended(
    *,
    status: str | None,
    details: str | None,
    terminate: AuditEvent | None,
    start: dt.datetime | None,
    end: dt.datetime | None,
    max_minutes: float | None,
) -> tuple[str | None, str | None]:
    """(ended_by, terminated_by) from what is known; None while the session runs.

    In order: DescribeSessions Details that say it; Failed; a TerminateSession call
    made before the end (its caller ended it); a duration that reached
    MaxSessionDuration; else "unknown" (neither CloudTrail nor DescribeSessions tells an
    exit from an idle timeout).
    """
    if status in ACTIVE:
        return None, None
    ended_it = terminate is not None and (end is None or terminate.time <= end + _TERMINATE_SLACK)
    terminated_by = terminate.user_arn if ended_it and terminate is not None else None
    hint = ending_from_details(details)
    if hint is not None:
        return hint, terminated_by if hint == "terminated" else None
    if status == "Failed":
        return "failed", None
    if terminated_by:
        return "terminated", terminated_by
    if max_minutes and start and end and end - start >= dt.timedelta(minutes=max_minutes - 1):
        return "maximum duration", None
    return "unknown", None


def ending_from_details(details: str | None) -> str | None:
    if not details:
        return None
    text = details.lower()
    return next((ending for word, ending in _DETAIL_HINTS if word in text), None)


def _minutes(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
