"""Commands sent to the sandbox, and the dispatcher that delivers them to nodes.

One dispatcher thread walks the active commands whenever something changes (a new
command, a finished invocation, a cancel) and at least once a second while invocations
wait: it honours MaxConcurrency and MaxErrors, the delivery timeout (TimeoutSeconds),
and the nodes' state (offline nodes wait as Delayed; gone ones end Undeliverable).
Each started invocation runs in a worker thread of its own.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from ssmctl.sandbox.command_exec import OUTPUT_LIMIT, Execution, Result
from ssmctl.sandbox.command_models import Command, Invocation

MAX_PROCESSES = 128
"""At most this many invocations run at once in a sandbox (the host's protection)."""
_RECHECK = 1.0  # seconds between looks at the nodes of Delayed invocations

NodeStates = Callable[[], Mapping[str, str]]
"""The command's nodes now: node id -> "online", "offline" or "gone"."""
Prepare = Callable[[Command, Invocation], "Execution | Result"]
"""What to run for an invocation (a Result when it fails before anything starts)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclasses.dataclass(frozen=True)
class _Hooks:
    node_states: NodeStates
    prepare: Prepare


class CommandStore:
    """Every command of a sandbox, by id (thread-safe: use `locked()` to read them)."""

    def __init__(self, max_processes: int = MAX_PROCESSES) -> None:
        self.max_processes = max_processes
        self._cond = threading.Condition()
        self._commands: dict[str, Command] = {}
        self._hooks: dict[str, _Hooks] = {}
        self._running = 0
        self._closed = False
        self._dispatcher: threading.Thread | None = None

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's lock while reading or rendering commands."""
        with self._cond:
            yield

    def add(self, command: Command, node_states: NodeStates, prepare: Prepare) -> None:
        with self._cond:
            if self._closed:
                raise RuntimeError("the sandbox is stopping")
            self._commands[command.command_id] = command
            self._hooks[command.command_id] = _Hooks(node_states, prepare)
            command.roll_up()
            if self._dispatcher is None:
                self._dispatcher = threading.Thread(
                    target=self._loop, name="ssmctl-sandbox-commands", daemon=True
                )
                self._dispatcher.start()
            self._cond.notify_all()

    def get(self, command_id: str) -> Command | None:
        """The command (read its fields under `locked()`)."""
        with self._cond:
            return self._commands.get(command_id)

    def commands(self, account_id: str, region: str) -> list[Command]:
        """The region's commands, newest first."""
        with self._cond:
            found = [
                c
                for c in self._commands.values()
                if c.account_id == account_id and c.region == region
            ]
        return sorted(found, key=lambda c: (c.requested, c.command_id), reverse=True)

    def cancel(self, command: Command, node_ids: Sequence[str] | None = None) -> None:
        """Cancel the command on `node_ids` (default: everywhere): waiting invocations end
        Cancelled at once; running ones are killed and end Cancelled."""
        with self._cond:
            now = _now()
            if node_ids is None:
                command.cancel_requested = True
            for invocation in command.invocations.values():
                if invocation.terminal or (
                    node_ids is not None and invocation.node_id not in node_ids
                ):
                    continue
                if invocation.waiting:
                    invocation.end("Cancelled", "Cancelled", now)
                else:
                    invocation.status = invocation.details = "Cancelling"
                    if invocation.stop is not None:
                        invocation.stop()
            command.roll_up()
            self._cond.notify_all()

    def close(self) -> None:
        """Stop dispatching and kill every running process."""
        with self._cond:
            self._closed = True
            for command in self._commands.values():
                for invocation in command.invocations.values():
                    if invocation.stop is not None and not invocation.terminal:
                        invocation.stop()
            self._cond.notify_all()
            dispatcher = self._dispatcher
        if dispatcher is not None:
            dispatcher.join(timeout=5)

    # --- the dispatcher ------------------------------------------------------------

    def _loop(self) -> None:
        with self._cond:
            while not self._closed:
                waits = [self._tick(c) for c in list(self._commands.values()) if not c.done]
                timeouts = [w for w in waits if w is not None]
                self._cond.wait(timeout=min(timeouts) if timeouts else None)

    def _tick(self, command: Command) -> float | None:
        """Move one command on; returns how soon to look at it again (None: on change)."""
        now = _now()
        waiting = [i for i in command.invocations.values() if i.waiting]
        again: float | None = None
        if waiting and command.cancel_requested:
            for invocation in waiting:
                invocation.end("Cancelled", "Cancelled", now)
        elif waiting and now >= command.expires:
            for invocation in waiting:
                invocation.end("TimedOut", "DeliveryTimedOut", now)
        elif waiting and command.errors() > command.error_limit():
            for invocation in waiting:
                invocation.end("Cancelled", "Terminated", now)
        elif waiting:
            self._deliver(command, waiting, now)
            if any(i.waiting for i in command.invocations.values()):
                again = min(_RECHECK, (command.expires - now).total_seconds())
        command.roll_up()
        return again

    def _deliver(self, command: Command, waiting: list[Invocation], now: dt.datetime) -> None:
        running = sum(1 for i in command.invocations.values() if not i.terminal and not i.waiting)
        free = min(command.concurrency() - running, self.max_processes - self._running)
        if free <= 0:
            return
        hooks = self._hooks[command.command_id]
        states = hooks.node_states()
        for invocation in waiting:
            state = states.get(invocation.node_id, "gone")
            if state == "gone":
                invocation.end("Failed", "Undeliverable", now)
            elif invocation.platform not in command.document.platforms:
                invocation.end("Failed", "InvalidPlatform", now)
            elif state != "online":
                invocation.status = invocation.details = "Delayed"
            elif free > 0:
                self._start(command, invocation, hooks.prepare, now)
                free -= 1

    def _start(
        self, command: Command, invocation: Invocation, prepare: Prepare, now: dt.datetime
    ) -> None:
        invocation.status = invocation.details = "InProgress"
        invocation.started = now
        prepared = prepare(command, invocation)
        if isinstance(prepared, Result):
            self._finish(command, invocation, prepared, counted=False)
            return
        self._running += 1
        invocation.stop = prepared.kill
        threading.Thread(
            target=self._work,
            args=(command, invocation, prepared),
            name="ssmctl-sandbox-invocation",
            daemon=True,
        ).start()

    def _work(self, command: Command, invocation: Invocation, execution: Execution) -> None:
        result = execution.run()
        with self._cond:
            self._finish(command, invocation, result, counted=True)
            self._cond.notify_all()

    def _finish(
        self, command: Command, invocation: Invocation, result: Result, *, counted: bool
    ) -> None:
        if counted:
            self._running -= 1
        invocation.stop = None
        invocation.stdout = result.stdout
        stderr = result.stderr
        if stderr and not stderr.endswith("\n"):
            stderr += "\n"
        now = _now()
        if result.killed or invocation.status == "Cancelling":
            invocation.end("Cancelled", "Cancelled", now, result.exit_code)
        elif result.timed_out:
            stderr += f"failed to run commands: timed out after {command.execution_timeout} s\n"
            invocation.end("TimedOut", "ExecutionTimedOut", now, result.exit_code)
        elif result.exit_code == 0:
            invocation.end("Success", "Success", now, 0)
        else:
            stderr += f"failed to run commands: exit status {result.exit_code}\n"
            invocation.end("Failed", "Failed", now, result.exit_code)
        invocation.stderr = stderr[:OUTPUT_LIMIT]
        command.roll_up()
