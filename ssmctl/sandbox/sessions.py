"""Session Manager sessions: the sandbox's kept state behind Start/Describe/Terminate/Resume.

Tokens are kept only as SHA-256 digests and are one-time: the data channel checks and
consumes them with `consume_token`. A session nobody connects to within the connect
timeout moves to History as Failed; that is evaluated whenever the store is read, so no
background thread is needed. History is final: once a session has ended, its status, end
and `end_reason` no longer change (only its Details and OutputUrl may).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import secrets
import string
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

ACTIVE_STATUSES = ("Connected", "Connecting", "Disconnected", "Terminating")
HISTORY_STATUSES = ("Terminated", "Failed")
HISTORY_DAYS = 30
DEFAULT_DOCUMENT = "SSM-SessionManagerRunShell"
_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def new_session_id(caller_name: str) -> str:
    """`<caller-name>-<26 chars [a-z0-9]>`, as Session Manager names sessions since 2025."""
    suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(26))
    return f"{caller_name[: 96 - 27]}-{suffix}"


def new_token() -> str:
    """A one-time opaque TokenValue (AWS's are up to 300 characters)."""
    return secrets.token_urlsafe(132)


def _copy(record: SessionRecord | None) -> SessionRecord | None:
    # Callers get snapshots: the stored record keeps changing under the lock.
    return dataclasses.replace(record) if record is not None else None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclasses.dataclass
class SessionRecord:
    """One session. Mutable: its status moves on; guarded by the store's lock."""

    session_id: str
    account_id: str
    region: str
    target: str
    owner: str
    document_name: str
    start: dt.datetime
    status: str = "Connecting"
    end: dt.datetime | None = None
    reason: str | None = None
    parameters: Mapping[str, Sequence[str]] = dataclasses.field(default_factory=dict)
    details: str | None = None
    output_url: Mapping[str, str] | None = None
    max_session_duration: str | None = None
    access_type: str = "Standard"
    connect_deadline: dt.datetime | None = None
    """Still Connecting after this moment -> Failed."""
    stream_url: str = ""
    token_digest: str | None = dataclasses.field(default=None, repr=False)
    preferences: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False)
    """The preferences `inputs` resolved at StartSession (logging, timeouts, shell profile)."""
    end_reason: str | None = None
    """Why it ended: exit, terminated, client_terminated, idle_timeout, max_duration,
    connect_timeout or failed (the data channel says more in Details)."""

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def to_api(self) -> dict[str, object]:
        """The DescribeSessions `Session` structure."""
        out: dict[str, object] = {
            "SessionId": self.session_id,
            "Target": self.target,
            "Status": self.status,
            "StartDate": self.start,
            "DocumentName": self.document_name,
            "Owner": self.owner,
            "AccessType": self.access_type,
        }
        optional: dict[str, object] = {
            "EndDate": self.end,
            "Reason": self.reason,
            "Details": self.details,
            "OutputUrl": dict(self.output_url) if self.output_url else None,
            "MaxSessionDuration": self.max_session_duration,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return out


class SessionStore:
    """Every session of the sandbox (all accounts and regions); thread-safe."""

    def __init__(self, connect_timeout: float, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.connect_timeout = connect_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, SessionRecord] = {}
        self._on_terminate: list[Callable[[SessionRecord], None]] = []

    def subscribe_terminate(self, callback: Callable[[SessionRecord], None]) -> None:
        """Call `callback(record)` (outside the lock) whenever terminate() ends a session."""
        with self._lock:
            self._on_terminate.append(callback)

    def create(
        self,
        *,
        account_id: str,
        region: str,
        target: str,
        owner: str,
        caller_name: str,
        document_name: str,
        reason: str | None,
        parameters: Mapping[str, Sequence[str]],
        stream_url: Callable[[str], str],
        output_url: Callable[[str], Mapping[str, str] | None] | None = None,
        max_session_duration: str | None = None,
        preferences: Mapping[str, Any] | None = None,
    ) -> tuple[SessionRecord, str]:
        """Start a session in Connecting; returns it and its one-time token."""
        now = self._clock()
        token = new_token()
        with self._lock:
            session_id = new_session_id(caller_name)
            while session_id in self._sessions:
                session_id = new_session_id(caller_name)
            record = SessionRecord(
                session_id=session_id,
                account_id=account_id,
                region=region,
                target=target,
                owner=owner,
                document_name=document_name,
                start=now,
                reason=reason,
                parameters={k: list(v) for k, v in parameters.items()},
                output_url=output_url(session_id) if output_url else None,
                max_session_duration=max_session_duration,
                connect_deadline=now + dt.timedelta(seconds=self.connect_timeout),
                stream_url=stream_url(session_id),
                token_digest=_digest(token),
                preferences=dict(preferences or {}),
            )
            self._sessions[session_id] = record
            return dataclasses.replace(record), token

    def add(self, record: SessionRecord) -> None:
        """Add a session as it is (e.g. history seeded from a file)."""
        with self._lock:
            self._sessions[record.session_id] = record

    def get(self, account_id: str, region: str, session_id: str) -> SessionRecord | None:
        with self._lock:
            self._expire(self._clock())
            return _copy(self._lookup(account_id, region, session_id))

    def terminate(self, account_id: str, region: str, session_id: str) -> SessionRecord | None:
        """End an active session (Terminated, EndDate now); None if it is unknown."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            record = self._lookup(account_id, region, session_id)
            ended = record is not None and record.active
            if record is not None and ended:
                record.status, record.end, record.token_digest = "Terminated", now, None
                record.end_reason = "terminated"
            snapshot, listeners = _copy(record), list(self._on_terminate)
        if ended and snapshot is not None:
            for callback in listeners:
                callback(dataclasses.replace(snapshot))
        return snapshot

    def resume(
        self, account_id: str, region: str, session_id: str
    ) -> tuple[SessionRecord | None, str]:
        """A fresh one-time token for an active session ('' if it has ended)."""
        with self._lock:
            self._expire(self._clock())
            record = self._lookup(account_id, region, session_id)
            if record is None or not record.active:
                return _copy(record), ""
            token = new_token()
            record.token_digest = _digest(token)
            return dataclasses.replace(record), token

    def consume_token(self, session_id: str, token: str) -> SessionRecord | None:
        """The active session `token` opens, spending the token; None if it does not match."""
        with self._lock:
            self._expire(self._clock())
            record = self._sessions.get(session_id)
            if record is None or not record.active or record.token_digest is None:
                return None
            if not hmac.compare_digest(record.token_digest, _digest(token)):
                return None
            record.token_digest = None
            return dataclasses.replace(record)

    def set_status(
        self,
        session_id: str,
        status: str,
        details: str | None = None,
        *,
        end_reason: str | None = None,
    ) -> SessionRecord:
        """Move a session on (the data channel: Connected, Disconnected, Terminated, Failed).

        An ended session keeps its status, end and end_reason (only `details` changes).
        """
        if status not in ACTIVE_STATUSES + HISTORY_STATUSES:
            raise ValueError(f"unknown session status {status!r}")
        now = self._clock()
        with self._lock:
            self._expire(now)
            record = self._sessions[session_id]
            if record.active:
                record.status = status
                if status != "Connecting":
                    record.connect_deadline = None
                if status in HISTORY_STATUSES:
                    record.end, record.token_digest = record.end or now, None
                    record.end_reason = end_reason
            if details is not None:
                record.details = details
            return dataclasses.replace(record)

    def set_output_url(self, session_id: str, output_url: Mapping[str, str] | None) -> None:
        """Say where the session's transcript went (DescribeSessions' OutputUrl)."""
        with self._lock:
            self._sessions[session_id].output_url = dict(output_url) if output_url else None

    def list(self, account_id: str, region: str, state: str) -> list[SessionRecord]:
        """Active sessions, or History (ended within 30 days); newest first."""
        now = self._clock()
        horizon = now - dt.timedelta(days=HISTORY_DAYS)
        with self._lock:
            self._expire(now)
            chosen = [
                dataclasses.replace(r)
                for r in self._sessions.values()
                if r.account_id == account_id
                and r.region == region
                and (
                    r.active
                    if state == "Active"
                    else not r.active and (r.end or r.start) >= horizon
                )
            ]
        chosen.sort(key=lambda r: (r.start, r.session_id), reverse=True)
        return chosen

    def _lookup(self, account_id: str, region: str, session_id: str) -> SessionRecord | None:
        record = self._sessions.get(session_id)
        if record is None or record.account_id != account_id or record.region != region:
            return None
        return record

    def _expire(self, now: dt.datetime) -> None:
        for record in self._sessions.values():
            deadline = record.connect_deadline
            if record.status == "Connecting" and deadline is not None and deadline <= now:
                record.status, record.end, record.token_digest = "Failed", deadline, None
                record.connect_deadline, record.end_reason = None, "connect_timeout"
