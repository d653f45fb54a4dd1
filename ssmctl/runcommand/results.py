"""One result per targeted instance, and the summary and exit status of a run."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any

from ssmctl.errors import ExitStatus
from ssmctl.timespec import iso_utc

OUTPUT_LIMIT = 24_000
"""AWS returns at most this many characters of stdout and of stderr per instance."""

SUCCEEDED = "succeeded"
FAILED = "failed"
TIMED_OUT = "timed out"
CANCELLED = "cancelled"
UNDELIVERED = "not delivered"
SKIPPED = "skipped"
OUTCOMES = (SUCCEEDED, FAILED, TIMED_OUT, CANCELLED, UNDELIVERED, SKIPPED)
_DID_NOT_RUN = frozenset({UNDELIVERED, SKIPPED})
_ALWAYS_COUNTED = (SUCCEEDED, FAILED, TIMED_OUT, SKIPPED)

# ssmctl's own status details, next to AWS's (Success, Failed, ExecutionTimedOut, ...).
SKIPPED_STATUS = "Skipped"
NOT_SENT = "NotSent"
"""The command was never sent to this instance (max errors, Ctrl-C, the wait limit)."""
WAIT_LIMIT = "WaitLimitExceeded"
"""ssmctl stopped waiting (--timeout) and cancelled the command here."""
INTERRUPTED = "Interrupted"
"""Ctrl-C: ssmctl cancelled the command here."""


@dataclasses.dataclass(frozen=True)
class InvocationResult:
    """How the command went on one instance (or why it was not sent there)."""

    instance_id: str
    name: str
    region: str
    platform: str | None
    status: str
    """AWS's invocation Status (Success, Failed, TimedOut, Cancelled) or Skipped."""
    status_details: str
    """AWS's StatusDetails (ExecutionTimedOut, Undeliverable, Terminated, ...), ssmctl's
    NotSent / WaitLimitExceeded / Interrupted, or why an instance was skipped."""
    command_id: str | None = None
    document: str | None = None
    exit_code: int | None = None
    """The ResponseCode: the script's exit status (None: it never ran)."""
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    stdout: str = ""
    stderr: str = ""

    @property
    def label(self) -> str:
        return self.name or self.instance_id

    @property
    def stdout_truncated(self) -> bool:
        return len(self.stdout) >= OUTPUT_LIMIT

    @property
    def stderr_truncated(self) -> bool:
        return len(self.stderr) >= OUTPUT_LIMIT

    @property
    def outcome(self) -> str:
        """succeeded, failed, timed out, cancelled, not delivered or skipped."""
        if self.status == "Success":
            return SUCCEEDED
        if self.status == SKIPPED_STATUS:
            return SKIPPED
        if self.status_details in ("Undeliverable", "DeliveryTimedOut"):
            return UNDELIVERED
        if self.status == "TimedOut":
            return TIMED_OUT
        if self.status == "Cancelled":
            return CANCELLED
        return FAILED

    def to_record(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "name": self.name,
            "status": self.status,
            "status_details": self.status_details,
            "exit_code": self.exit_code,
            "stdout": self.stdout,
            "stderr": self.stderr,
            "stdout_truncated": self.stdout_truncated,
            "stderr_truncated": self.stderr_truncated,
            "start": iso_utc(self.start),
            "end": iso_utc(self.end),
            "command_id": self.command_id,
            "document": self.document,
            "platform": self.platform,
            "region": self.region,
        }


@dataclasses.dataclass
class Summary:
    """Counts by outcome, and the instances that did not succeed."""

    results: list[InvocationResult] = dataclasses.field(default_factory=list)
    command_ids: list[str] = dataclasses.field(default_factory=list)

    def add(self, result: InvocationResult) -> None:
        self.results.append(result)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    def exit_status(self) -> ExitStatus:
        """0 when every instance succeeded; RUN_FAILED when the command failed, timed out
        or was cancelled somewhere; RUN_INCOMPLETE when it succeeded wherever it ran but
        some targets were skipped or never reached."""
        outcomes = {r.outcome for r in self.results}
        if outcomes - {SUCCEEDED} - _DID_NOT_RUN:
            return ExitStatus.RUN_FAILED
        if outcomes & _DID_NOT_RUN:
            return ExitStatus.RUN_INCOMPLETE
        return ExitStatus.OK

    def lines(self) -> list[str]:
        """The summary for stderr: the counts, then each instance that did not succeed."""
        shown = [
            f"{n} {outcome}"
            for outcome in OUTCOMES
            if (n := self.count(outcome)) or outcome in _ALWAYS_COUNTED
        ]
        counts = ", ".join(shown)
        ids = ", ".join(self.command_ids) or "none sent"
        total = len(self.results)
        noun = "instance" if total == 1 else "instances"
        label = "command" if len(self.command_ids) == 1 else "commands"
        out = [f"{total} {noun}: {counts} ({label} {ids})"]
        for outcome in OUTCOMES[1:]:
            for result in _by_label(r for r in self.results if r.outcome == outcome):
                out.append(f"  {outcome}: {result.label} ({result.instance_id}): {_why(result)}")
        return out


def _by_label(results: Iterable[InvocationResult]) -> list[InvocationResult]:
    return sorted(results, key=lambda r: (r.label, r.instance_id))


def _why(result: InvocationResult) -> str:
    if result.outcome == SKIPPED:
        return result.status_details
    if result.exit_code is not None and result.outcome == FAILED:
        return f"exit code {result.exit_code}"
    return result.status_details
