"""A stand-in for the boto3 SSM client the native engine uses, backed by a FarEnd.

StartSession, ResumeSession and TerminateSession as the service answers them: one-time
tokens, a new token per resume, an empty token once the session has ended.
"""

from __future__ import annotations

import dataclasses
import itertools
import secrets
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from tests.native.far_end import FarEnd, Plan


class FakeSsm:
    """The SSM API of one fake region; `far_end` serves its sessions' data channels."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.plans: dict[str, Plan] = {}
        self.resume_failures = 0
        """How many ResumeSession calls to fail (as a throttled or unreachable API would)."""
        self._tokens: dict[str, str] = {}
        self._active: set[str] = set()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.far_end = FarEnd(self._authorize, is_active=self.is_active, on_end=self._ended)

    def start(self) -> FakeSsm:
        self.far_end.start()
        return self

    def stop(self) -> None:
        self.far_end.stop()

    # -- the API ----------------------------------------------------------------------

    def start_session(
        self,
        Target: str,
        DocumentName: str | None = None,
        Parameters: Mapping[str, Sequence[str]] | None = None,
        Reason: str | None = None,
        **plan: Any,
    ) -> dict[str, str]:
        session_id = f"tester-{next(self._ids):026d}"
        self.plans[session_id] = Plan(
            session_id, Target, DocumentName, dict(Parameters or {}), **plan
        )
        with self._lock:
            self._active.add(session_id)
        self.calls.append(("StartSession", session_id))
        return self._ticket(session_id)

    def resume_session(self, SessionId: str) -> dict[str, str]:
        self.calls.append(("ResumeSession", SessionId))
        if self.resume_failures > 0:
            self.resume_failures -= 1
            raise ConnectionError("the fake SSM endpoint is unreachable")
        if not self.is_active(SessionId):
            return {"SessionId": SessionId, "TokenValue": ""}
        return self._ticket(SessionId)

    def terminate_session(self, SessionId: str) -> dict[str, str]:
        self.calls.append(("TerminateSession", SessionId))
        with self._lock:
            self._active.discard(SessionId)
        return {"SessionId": SessionId}

    # -- for tests --------------------------------------------------------------------

    def is_active(self, session_id: str) -> bool:
        with self._lock:
            return session_id in self._active

    def terminated(self, session_id: str) -> bool:
        return ("TerminateSession", session_id) in self.calls

    def _ticket(self, session_id: str) -> dict[str, str]:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[session_id] = token
        return {
            "SessionId": session_id,
            "TokenValue": token,
            "StreamUrl": self.far_end.url(session_id),
        }

    def _authorize(self, session_id: str, token: str) -> Plan | None:
        with self._lock:
            if not token or self._tokens.get(session_id) != token:
                return None
            del self._tokens[session_id]  # one-time
            if session_id not in self._active:
                return None
        return self.plans[session_id]

    def _ended(self, session_id: str) -> None:
        with self._lock:
            self._active.discard(session_id)


@dataclasses.dataclass
class Captured:
    """What a native session wrote to its stdout and stderr (test pipes)."""

    stdout: bytes = b""
    stderr: bytes = b""
