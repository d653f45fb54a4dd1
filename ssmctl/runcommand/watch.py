"""Sending a planned run and watching it: one result per instance as each completes.

Polling costs one ListCommandInvocations per command in flight (paged, without Details),
and one GetCommandInvocation per instance, once, when it has ended (for its stdout and
stderr apart, 24,000 characters each): never one call per instance per poll. The poll
interval starts at 0.2 s and grows to 5 s while nothing changes; throttling errors are
retried with exponential backoff on top of botocore's own retries (calls.py).

Limits across several SendCommand calls (more than 50 instances, or mixed platforms):
an absolute --max-concurrency also holds back the next call until the instances in
flight leave room; errors are counted across calls and, once more than --max-errors,
no further call is sent and the invocations still waiting are cancelled (running ones
finish), as AWS does within one command.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

from ssmctl.aws import error_code
from ssmctl.models import Instance
from ssmctl.runcommand.calls import patient_call, timestamp
from ssmctl.runcommand.options import RunOptions
from ssmctl.runcommand.plan import Plan, Send
from ssmctl.runcommand.results import (
    INTERRUPTED,
    NOT_SENT,
    SKIPPED_STATUS,
    WAIT_LIMIT,
    InvocationResult,
)

TERMINAL = frozenset({"Success", "Failed", "TimedOut", "Cancelled"})
WAITING = frozenset({"Pending", "Delayed"})
ERRORS = frozenset({"Failed", "ExecutionTimedOut"})
"""StatusDetails that count against MaxErrors."""
DEFAULT_CONCURRENCY = 50  # AWS's MaxConcurrency when none is given
DELIVERY_GRACE = 30  # seconds on top of the execution timeouts, for delivery
MAX_DELIVERY_TIMEOUT = 2_592_000
POLL_FIRST, POLL_MAX, POLL_GROWTH = 0.2, 5.0, 1.5


@dataclasses.dataclass
class _Flight:
    """A command in flight and the instances it has not reported yet."""

    send: Send
    command_id: str
    unreported: dict[str, Instance | None]
    """Instance id -> instance (None: one a Targets call reached that was not planned)."""
    statuses: dict[str, str] = dataclasses.field(default_factory=dict)
    reported: set[str] = dataclasses.field(default_factory=set)
    finished: bool = False


class Watch:
    """Sends a plan's commands and yields their results (see the module docstring)."""

    def __init__(
        self,
        ssm: Any,
        plan: Plan,
        options: RunOptions,
        *,
        notice: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ssm = ssm
        self.plan = plan
        self.options = options
        self._notice = notice or (lambda _: None)
        self._sleep = sleep
        self._clock = clock
        self._pending = collections.deque(plan.sends)
        self._flights: list[_Flight] = []
        self.command_ids: list[str] = []
        self._errors = 0
        self._stopped = False
        total = plan.total
        self._concurrency = (
            options.max_concurrency.of(total, at_least_one=True)
            if options.max_concurrency
            else None
        )
        self._allowed_errors = (
            options.max_errors.of(total, at_least_one=False) if options.max_errors else 0
        )
        self._limits = self._send_limits()
        self._wait = self._wait_limit()
        self._deadline: float | None = None

    def _send_limits(self) -> dict[str, str]:
        """MaxConcurrency / MaxErrors for each SendCommand: as given for a single call,
        else as numbers out of the whole run."""
        options, single = self.options, len(self.plan.sends) == 1
        limits = {}
        if options.max_concurrency:
            text = options.max_concurrency.text
            limits["MaxConcurrency"] = text if single else str(self._concurrency)
        if options.max_errors:
            text = options.max_errors.text
            limits["MaxErrors"] = text if single else str(self._allowed_errors)
        return limits

    def _wait_limit(self) -> int | None:
        """How long the whole run may take with --timeout: a timeout per wave of
        instances (as many as run at once), plus time for delivery."""
        timeout = self.options.timeout
        if timeout is None:
            return None
        total = max(1, self.plan.total)
        one_call_each = all(s.target is None for s in self.plan.sends)
        if self._concurrency is not None:
            waves = math.ceil(total / self._concurrency)
        elif one_call_each:
            waves = 1  # every call carries at most 50 ids and AWS runs 50 at once
        else:
            waves = math.ceil(total / DEFAULT_CONCURRENCY)
        return waves * timeout + DELIVERY_GRACE

    # --- the run ---------------------------------------------------------------------

    def results(self) -> Iterator[InvocationResult]:
        """Skipped instances first, then each instance's result as it completes."""
        for skip in self.plan.skipped:
            yield InvocationResult(
                skip.instance_id, skip.name, self.plan.region, skip.platform,
                SKIPPED_STATUS, skip.reason,
            )  # fmt: skip
        if self._wait is not None:
            self._deadline = self._clock() + self._wait
        interval = POLL_FIRST
        while self._pending or self._flights:
            yield from self._send_allowed()
            if not self._flights:
                yield from self._not_sent("Cancelled")  # stopped by max errors
                return
            if self._deadline is not None and self._clock() >= self._deadline:
                yield from self._give_up()
                return
            progress = False
            for flight in list(self._flights):
                for result in self._poll(flight):
                    progress = True
                    yield result
                if flight.finished:
                    self._flights.remove(flight)
            self._check_errors()
            interval = POLL_FIRST if progress else min(POLL_MAX, interval * POLL_GROWTH)
            if self._flights:
                left = None if self._deadline is None else self._deadline - self._clock()
                self._sleep(max(0.0, interval if left is None else min(interval, left)))

    def cancel(self) -> list[InvocationResult]:
        """Ctrl-C: cancel every command in flight; results for what had not ended."""
        out: list[InvocationResult] = []
        for flight in self._flights:
            self._cancel_quietly(flight.command_id)
            out += [self._ended(flight, i, "Cancelled", INTERRUPTED) for i in flight.unreported]
        self._flights.clear()
        out += list(self._not_sent("Cancelled"))
        return out

    # --- sending -----------------------------------------------------------------------

    def _send_allowed(self) -> Iterator[InvocationResult]:
        while self._pending and not self._stopped and self._room_for(self._pending[0]):
            yield from self._send(self._pending.popleft())

    def _room_for(self, send: Send) -> bool:
        if self._concurrency is None:
            return True
        in_flight = sum(len(f.unreported) for f in self._flights)
        return in_flight == 0 or in_flight + len(send.instances) <= self._concurrency

    def _send(self, send: Send) -> Iterator[InvocationResult]:
        import botocore.exceptions

        parameters = {"commands": [self.options.command]}
        if self.options.timeout is not None:
            parameters["executionTimeout"] = [str(self.options.timeout)]
        request: dict[str, Any] = {
            "DocumentName": send.document,
            "Parameters": parameters,
            **send.addressing(),
            **self._limits,
        }
        if self.options.comment:
            request["Comment"] = self.options.comment
        if self._wait is not None:
            request["TimeoutSeconds"] = min(MAX_DELIVERY_TIMEOUT, max(30, self._wait))
        try:
            command = self._call(self._ssm.send_command, **request)["Command"]
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "InvalidInstanceId" and send.target is None:
                yield from self._refused(send, exc)
                return
            if not self.command_ids:
                raise  # nothing was sent: the whole run fails with AWS's error
            message = str(exc.response.get("Error", {}).get("Message", exc))
            for instance in send.instances:
                yield self._unsent(instance, "Failed", NOT_SENT, stderr=message)
            return
        command_id = str(command["CommandId"])
        self.command_ids.append(command_id)
        unreported: dict[str, Instance | None] = {i.instance_id: i for i in send.instances}
        self._flights.append(_Flight(send, command_id, unreported))
        count = len(send.instances)
        self._notice(
            f"command {command_id} ({send.document}) sent to {count} "
            f"instance{'s' if count != 1 else ''}"
        )

    def _refused(self, send: Send, exc: Exception) -> Iterator[InvocationResult]:
        """InvalidInstanceId for a batch: an instance went away since it was resolved.
        Halve the batch until the culprit is alone, and skip it."""
        if len(send.instances) == 1:
            message = str(getattr(exc, "response", {}).get("Error", {}).get("Message", ""))
            yield self._unsent(
                send.instances[0], SKIPPED_STATUS, f"SendCommand refused it: {message}"
            )
            return
        half = len(send.instances) // 2
        for part in (send.instances[half:], send.instances[:half]):
            self._pending.appendleft(Send(send.document, part))

    # --- watching ----------------------------------------------------------------------

    def _poll(self, flight: _Flight) -> Iterator[InvocationResult]:
        for row in self._invocations(flight.command_id):
            node = str(row["InstanceId"])
            status = str(row.get("Status", ""))
            flight.statuses[node] = status
            if node in flight.reported:
                continue
            if node not in flight.unreported:
                if flight.send.target is None:
                    continue
                flight.unreported[node] = None  # a Targets call reached it: report it too
            if status in TERMINAL:
                result = self._fetch(flight, node)
                if result is not None:
                    del flight.unreported[node]
                    flight.reported.add(node)
                    if result.status_details in ERRORS:
                        self._errors += 1
                    yield result
        if flight.send.target is None:
            flight.finished = not flight.unreported
        elif all(flight.statuses.get(i) is None for i in flight.unreported):
            # Every listed invocation is reported; a Targets command may still add some.
            yield from self._finish_targets(flight)

    def _finish_targets(self, flight: _Flight) -> Iterator[InvocationResult]:
        found = self._call(self._ssm.list_commands, CommandId=flight.command_id)["Commands"]
        if found and found[0].get("Status") in TERMINAL:
            flight.finished = True
            for node in list(flight.unreported):
                yield self._ended(flight, node, SKIPPED_STATUS, "NotTargeted")

    def _invocations(self, command_id: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        request: dict[str, Any] = {"CommandId": command_id, "MaxResults": 50}
        while True:
            page = self._call(self._ssm.list_command_invocations, **request)
            rows += page.get("CommandInvocations", [])
            token = page.get("NextToken")
            if not token:
                return rows
            request["NextToken"] = token

    def _fetch(self, flight: _Flight, node: str) -> InvocationResult | None:
        """The ended invocation with its output (None when AWS does not show it yet)."""
        import botocore.exceptions

        try:
            found = self._call(
                self._ssm.get_command_invocation, CommandId=flight.command_id, InstanceId=node
            )
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) == "InvocationDoesNotExist":
                return None
            raise
        if found.get("Status") not in TERMINAL:
            return None
        code = found.get("ResponseCode")
        instance = flight.unreported.get(node)
        return InvocationResult(
            instance_id=node,
            name=instance.name if instance else "",
            region=self.plan.region,
            platform=instance.platform if instance else None,
            status=str(found["Status"]),
            status_details=str(found.get("StatusDetails") or found["Status"]),
            command_id=flight.command_id,
            document=flight.send.document,
            exit_code=None if code is None or int(code) == -1 else int(code),
            start=timestamp(found.get("ExecutionStartDateTime")),
            end=timestamp(found.get("ExecutionEndDateTime")),
            stdout=str(found.get("StandardOutputContent") or ""),
            stderr=str(found.get("StandardErrorContent") or ""),
        )

    def _check_errors(self) -> None:
        """More errors than allowed: send nothing more, cancel what still waits."""
        if self._stopped or self._errors <= self._allowed_errors:
            return
        self._stopped = True
        if len(self.plan.sends) == 1:
            return  # AWS applies MaxErrors within the one command
        for flight in self._flights:
            waiting = [i for i in flight.unreported if flight.statuses.get(i, "Pending") in WAITING]
            for start in range(0, len(waiting), 50):
                self._cancel_quietly(flight.command_id, waiting[start : start + 50])

    def _give_up(self) -> Iterator[InvocationResult]:
        """--timeout's wait limit passed: cancel, and report what had not ended."""
        self._notice(f"stopped waiting after {self._wait} s (--timeout); cancelling")
        for flight in self._flights:
            self._cancel_quietly(flight.command_id)
            for node in list(flight.unreported):
                yield self._ended(flight, node, "TimedOut", WAIT_LIMIT)
        self._flights.clear()
        yield from self._not_sent("TimedOut")

    def _not_sent(self, status: str) -> Iterator[InvocationResult]:
        while self._pending:
            send = self._pending.popleft()
            for instance in send.instances:
                yield self._unsent(instance, status, NOT_SENT, document=send.document)

    def _ended(self, flight: _Flight, node: str, status: str, details: str) -> InvocationResult:
        instance = flight.unreported.get(node)
        return InvocationResult(
            instance_id=node,
            name=instance.name if instance else "",
            region=self.plan.region,
            platform=instance.platform if instance else None,
            status=status,
            status_details=details,
            command_id=flight.command_id,
            document=flight.send.document,
        )

    def _unsent(
        self,
        instance: Instance,
        status: str,
        details: str,
        *,
        document: str | None = None,
        stderr: str = "",
    ) -> InvocationResult:
        return InvocationResult(
            instance_id=instance.instance_id,
            name=instance.name,
            region=self.plan.region,
            platform=instance.platform,
            status=status,
            status_details=details,
            document=document,
            stderr=stderr,
        )

    # --- calls -------------------------------------------------------------------------

    def _cancel_quietly(self, command_id: str, instance_ids: list[str] | None = None) -> None:
        """CancelCommand; a failure leaves the command to AWS's own timeouts."""
        import botocore.exceptions

        request: dict[str, Any] = {"CommandId": command_id}
        if instance_ids:
            request["InstanceIds"] = instance_ids
        try:
            self._call(self._ssm.cancel_command, **request)
        except botocore.exceptions.ClientError as exc:
            self._notice(f"could not cancel command {command_id}: {error_code(exc)}")

    def _call(self, method: Callable[..., Any], **kwargs: Any) -> Any:
        return patient_call(self._sleep, method, **kwargs)
