"""Running a command on instances (`ssmctl exec`): AWS-StartNonInteractiveCommand, natively.

The command line is built from an argument vector: every argument is quoted for `sh`
(shlex), so `exec web-1 -- grep 'a b' file` runs exactly `grep`, `a b`, `file`, and no
argument can inject shell syntax. For pipes and redirections, say so:
`exec web-1 -- sh -c 'dmesg | tail'`.

The session asks for separate output streams (`separateOutputStream`): the remote stdout
goes to stdout, stderr to stderr, and the remote exit status becomes ssmctl's. On several
instances at once every line is prefixed with the instance (`web-1 | ...`, stderr lines on
stderr), at most `concurrency` sessions run together, and the exit status is 0 only when
every instance exited 0 (else the highest status among them; an instance whose session
could not run counts with ssmctl's own status for that failure: 3 for an instance that is
not online in SSM, 4 for a session that failed, ...).
"""

from __future__ import annotations

import asyncio
import collections
import shlex
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ssmctl.aws import AwsContext, translate
from ssmctl.errors import ExitStatus, SsmctlError, UsageError
from ssmctl.models import Instance
from ssmctl.sanitize import terminal_safe
from ssmctl.sessions import start_request, start_session

if TYPE_CHECKING:
    from ssmctl.engines.native import SignalRouter, Sink

DOCUMENT = "AWS-StartNonInteractiveCommand"
DEFAULT_CONCURRENCY = 10


def command_line(argv: Sequence[str]) -> str:
    """The remote command line: each argument quoted for sh."""
    if not argv:
        raise UsageError("give the command to run after --, e.g. exec web-1 -- uptime")
    return shlex.join(argv)


def exec_request(
    instance_id: str, argv: Sequence[str], *, reason: str | None = None
) -> dict[str, Any]:
    """The StartSession request of a non-interactive command with separate streams."""
    return _request(instance_id, command_line(argv), reason)


def _request(instance_id: str, line: str, reason: str | None) -> dict[str, Any]:
    parameters = {"command": [line], "separateOutputStream": ["true"]}
    return start_request(instance_id, document=DOCUMENT, parameters=parameters, reason=reason)


def exec_one(
    aws: AwsContext,
    instance: Instance,
    argv: Sequence[str],
    *,
    reason: str | None,
    startup_timeout: float,
    notice: Callable[[str], None],
    stdin: bool = True,
) -> int:
    """Run the command on one instance with the user's streams; its exit status."""
    from ssmctl.connect import connect_native

    return connect_native(
        aws,
        instance.region,
        exec_request(instance.instance_id, argv, reason=reason),
        startup_timeout=startup_timeout,
        notice=notice,
        stdin=stdin,
    )


def labels(instances: Sequence[Instance]) -> dict[str, str]:
    """instance id -> its line prefix label: the Name, or the id when the Name is missing
    or shared; made inert for the terminal."""
    names = collections.Counter(i.name for i in instances if i.name)
    return {
        i.instance_id: terminal_safe(i.name if i.name and names[i.name] == 1 else i.instance_id)
        for i in instances
    }


def aggregate(statuses: Sequence[int]) -> int:
    """0 when every status is 0, else the highest."""
    return max(statuses, default=0)


class LinePrefixer:
    """A sink that writes whole lines, each with a prefix, to another sink."""

    def __init__(self, sink: Sink, prefix: bytes) -> None:
        self.sink = sink
        self.prefix = prefix
        self._partial = b""

    async def write(self, data: bytes) -> None:
        *lines, self._partial = (self._partial + data).split(b"\n")
        if lines:
            await self.sink.write(b"".join(self.prefix + line + b"\n" for line in lines))

    async def drain(self) -> None:
        await self.sink.drain()

    async def flush(self) -> None:
        """Write an unfinished last line (with a newline added)."""
        if self._partial:
            partial, self._partial = self._partial, b""
            await self.sink.write(self.prefix + partial + b"\n")


def exec_all(
    aws: AwsContext,
    instances: Sequence[Instance],
    argv: Sequence[str],
    *,
    reason: str | None,
    startup_timeout: float,
    notice: Callable[[str], None],
    concurrency: int = DEFAULT_CONCURRENCY,
    stdio: tuple[int, int] = (1, 2),
) -> int:
    """Run the command on every instance, `concurrency` at a time, output prefixed;
    returns the aggregate exit status (see the module docstring). No input is forwarded."""
    from ssmctl.engines.native import FdWriter, run_async

    request = {"command": command_line(argv), "reason": reason}
    names = labels(instances)
    width = max((len(label) for label in names.values()), default=0)

    async def main(router: SignalRouter) -> list[int]:
        out, err = FdWriter(stdio[0]), FdWriter(stdio[1])
        fleet = _Fleet(aws, request, router, asyncio.Semaphore(max(1, concurrency)), (out, err))
        try:
            runs = (
                fleet.run(i, names[i.instance_id].ljust(width), startup_timeout, notice)
                for i in instances
            )
            return list(await asyncio.gather(*runs))
        finally:
            await asyncio.gather(out.drain(), err.drain())
            out.close()
            err.close()

    return aggregate(run_async(main))


class _Fleet:
    """What the sessions of one exec_all share: AWS, the request, signals, a gate, sinks."""

    def __init__(
        self,
        aws: AwsContext,
        request: Mapping[str, Any],
        router: SignalRouter,
        gate: asyncio.Semaphore,
        sinks: tuple[Sink, Sink],
    ) -> None:
        self.aws = aws
        self.request = request
        self.router = router
        self.gate = gate
        self.sinks = sinks

    async def run(
        self,
        instance: Instance,
        label: str,
        startup_timeout: float,
        notice: Callable[[str], None],
    ) -> int:
        """One instance: its session, its prefixed output, its status."""
        from ssmctl.engines.native import LocalStreams, NativeSession

        def note(text: str) -> None:
            notice(f"{label} | {text}")

        if not instance.online:
            note(f"ssmctl: error: cannot take a session: {instance.availability()}")
            return int(ExitStatus.TARGET)
        async with self.gate:
            if self.router.stop_signal is not None:
                return 130  # interrupted before this instance's turn: nothing was started
            prefix = f"{label} | ".encode()
            out, err = LinePrefixer(self.sinks[0], prefix), LinePrefixer(self.sinks[1], prefix)
            request = _request(
                instance.instance_id, self.request["command"], self.request["reason"]
            )
            try:
                ssm = self.aws.client("ssm", instance.region)
                response = await asyncio.to_thread(start_session, ssm, request)
            except Exception as exc:
                return _failed(exc, note)
            session = NativeSession(
                ssm,
                response,
                streams=LocalStreams(out, err),
                notice=note,
                startup_timeout=startup_timeout,
            )
            self.router.sessions.add(session)
            try:
                return await session.run()
            except SsmctlError as exc:
                return _failed(exc, note)
            finally:
                self.router.sessions.discard(session)
                await out.flush()
                await err.flush()


def _failed(exc: BaseException, note: Callable[[str], None]) -> int:
    error = exc if isinstance(exc, SsmctlError) else translate(exc)
    if error is None:
        raise exc
    note(f"ssmctl: error: {error.message}")
    return int(error.exit_status)
