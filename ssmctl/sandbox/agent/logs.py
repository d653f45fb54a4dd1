"""Writing a logged session's transcript where its preferences say, as the agent does.

- CloudWatch Logs (`cloudWatchLogGroupName`), log stream = the session id: with
  `cloudWatchStreamingEnabled`, one JSON event about every second while the session
  runs; otherwise the plain-text transcript at the end, in events of at most 200 KB.
- S3 (`s3BucketName`): `<s3KeyPrefix>/<session-id>.log` (or `<session-id>.log`), the
  plain-text transcript at the end.

As on AWS the log group and the bucket must exist; when one does not, that destination is
skipped and the session's Details say why. Encryption settings and `kmsKeyId` are ignored.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from ssmctl.sandbox import moto_logging
from ssmctl.sandbox.agent.plan import SessionPlan
from ssmctl.sandbox.agent.transcript import Identity, Transcript, event_chunks

S3_URL = "S3OutputUrl"
CLOUDWATCH_URL = "CloudWatchOutputUrl"


def _text(preferences: Mapping[str, Any], key: str) -> str:
    value = preferences.get(key)
    return value.strip() if isinstance(value, str) else ""


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclasses.dataclass(frozen=True)
class Written:
    """Where the transcript went, and why any destination was skipped."""

    destinations: frozenset[str]
    """S3_URL and/or CLOUDWATCH_URL."""
    notes: tuple[str, ...]

    def output_url(self, planned: Mapping[str, str] | None) -> dict[str, str] | None:
        """The OutputUrl StartSession planned, keeping only what was written."""
        kept = {k: v for k, v in (planned or {}).items() if k in self.destinations}
        return kept or None


class SessionLogs:
    """One logged session's transcript and its destinations."""

    def __init__(
        self, *, account_id: str, plan: SessionPlan, identity: Identity, started: dt.datetime
    ) -> None:
        prefs = plan.preferences
        self.account_id = account_id
        self.identity = identity
        self.group = _text(prefs, "cloudWatchLogGroupName")
        self.streaming = bool(self.group) and str(
            prefs.get("cloudWatchStreamingEnabled")
        ).strip().lower() in ("true", "1")
        self.bucket = _text(prefs, "s3BucketName")
        prefix = _text(prefs, "s3KeyPrefix").strip("/")
        self.key = f"{prefix}/{identity.session_id}.log" if prefix else f"{identity.session_id}.log"
        self.transcript = Transcript(started)
        self._streamed = False
        self._notes: list[str] = []
        self._missing_group = False

    @property
    def wanted(self) -> bool:
        """True when the preferences name any destination."""
        return bool(self.group or self.bucket)

    def feed(self, data: bytes) -> None:
        self.transcript.feed(data)

    def stream(self, now: dt.datetime) -> None:
        """Streaming mode: put what was printed since the last call as one event."""
        if not self.streaming or self._missing_group:
            return
        lines = self.transcript.take_lines()
        if not lines:
            return
        event = self.transcript.event(self.identity, lines, now)
        region = self.identity.region
        if moto_logging.put_log_events(
            self.account_id, region, self.group, self.identity.session_id, [(_ms(now), event)]
        ):
            self._streamed = True
        else:
            self._missing_group = True
            self._notes.append(self._no_group())

    def finish(self, ended: dt.datetime, exit_code: int | None, terminal: str) -> Written:
        """Write the end-of-session transcripts; returns where the transcript went."""
        written: set[str] = set()
        script = self.transcript.script(ended, exit_code, terminal)
        region, session_id = self.identity.region, self.identity.session_id
        if self.streaming:
            self.stream(ended)
            if self._streamed:
                written.add(CLOUDWATCH_URL)
            elif not self._missing_group and not moto_logging.log_group_exists(
                self.account_id, region, self.group
            ):
                self._notes.append(self._no_group())
        elif self.group:
            events = [(_ms(ended), chunk) for chunk in event_chunks(script)]
            if moto_logging.put_log_events(self.account_id, region, self.group, session_id, events):
                written.add(CLOUDWATCH_URL)
            else:
                self._notes.append(self._no_group())
        if self.bucket:
            if moto_logging.put_object(self.account_id, self.bucket, self.key, script.encode()):
                written.add(S3_URL)
            else:
                self._notes.append(
                    f"Transcript not written to S3: bucket {self.bucket} does not exist."
                )
        return Written(frozenset(written), tuple(self._notes))

    def _no_group(self) -> str:
        return (
            f"Transcript not written to CloudWatch Logs: log group {self.group} does not exist "
            f"in {self.identity.region}."
        )
