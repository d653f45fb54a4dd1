"""`SessionRecord`: one session, joined from its events, DescribeSessions and transcript."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from ssmctl.timespec import iso_utc

# Documents whose sessions the agent never logs (only CloudTrail sees them).
UNLOGGED_DOCUMENTS = (
    "AWS-StartPortForwardingSession",
    "AWS-StartPortForwardingSessionToRemoteHost",
    "AWS-StartSSHSession",
)


@dataclasses.dataclass(frozen=True)
class SessionRecord:
    """Everything known about one session. Fields a source could not supply are None."""

    session_id: str
    region: str
    account: str | None = None
    user_arn: str | None = None
    user_type: str | None = None
    user_name: str | None = None
    mfa: bool | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    target: str | None = None
    target_name: str | None = None
    document: str | None = None
    parameters: Mapping[str, list[str]] = dataclasses.field(default_factory=dict)
    reason: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    status: str | None = None
    ended_by: str | None = None
    """exit, client, terminated, idle timeout, maximum duration, failed or unknown; None
    while the session runs (docs/audit.md, "How it ended")."""
    terminated_by: str | None = None
    """ARN of whoever called TerminateSession, when that call ended the session."""
    end_details: str | None = None
    """DescribeSessions' Details, or what an ending was inferred from."""
    resumes: int = 0
    transcript: str | None = None
    """Where the transcript is: s3://bucket/key or cloudwatch://group/stream."""
    transcript_bytes: int | None = None
    logged: bool | None = None
    """Whether there is a transcript: False for sessions the agent never logs (port
    forwarding, SSH) and when none was found; None when not looked up."""
    log_note: str | None = None
    """Why there is no transcript, or why it is not there yet."""

    @property
    def duration(self) -> dt.timedelta | None:
        if self.start is None or self.end is None:
            return None
        return self.end - self.start

    def to_record(self) -> dict[str, Any]:
        duration = self.duration
        return {
            "session_id": self.session_id,
            "user_arn": self.user_arn,
            "user_type": self.user_type,
            "user_name": self.user_name,
            "mfa": self.mfa,
            "source_ip": self.source_ip,
            "user_agent": self.user_agent,
            "target": self.target,
            "target_name": self.target_name,
            "document": self.document,
            "parameters": {k: list(v) for k, v in self.parameters.items()},
            "reason": self.reason,
            "start": iso_utc(self.start),
            "end": iso_utc(self.end),
            "duration_seconds": int(duration.total_seconds()) if duration is not None else None,
            "status": self.status,
            "ended_by": self.ended_by,
            "terminated_by": self.terminated_by,
            "end_details": self.end_details,
            "resumes": self.resumes,
            "transcript": self.transcript,
            "transcript_bytes": self.transcript_bytes,
            "logged": self.logged,
            "log_note": self.log_note,
            "region": self.region,
            "account": self.account,
        }


def never_logged(document: str | None) -> bool:
    return document in UNLOGGED_DOCUMENTS
