"""Running the native engine in-process against the fake region, with captured streams."""

from __future__ import annotations

import dataclasses
import os
import tempfile
import threading
from collections.abc import Callable
from typing import Any

from ssmctl.engines.native import Listening, run_native
from tests.native.fake_ssm import FakeSsm


@dataclasses.dataclass
class Outcome:
    status: int | None = None
    error: BaseException | None = None
    stdout: bytes = b""
    stderr: bytes = b""
    notices: list[str] = dataclasses.field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.notices)


class EngineRun:
    """`run_native` on a session of `region`, in a thread (no signals), files for output."""

    def __init__(
        self,
        region: FakeSsm,
        response: dict[str, str],
        *,
        stdin: bytes | None = None,
        startup_timeout: float = 10,
        keep_stdin_open: bool = False,
        stdout_pipe: bool = False,
    ) -> None:
        self.region = region
        self.response = response
        self.session_id = response["SessionId"]
        self.outcome = Outcome()
        self.listening: list[Listening] = []
        self.ready = threading.Event()
        self._out = tempfile.TemporaryFile()  # noqa: SIM115 - closed in wait()
        self._err = tempfile.TemporaryFile()  # noqa: SIM115
        self._stdin_write: int | None = None
        stdin_fd: int | None = None
        if stdin is not None or keep_stdin_open:
            stdin_fd, self._stdin_write = os.pipe()
            if stdin:
                os.write(self._stdin_write, stdin)
            if not keep_stdin_open:
                os.close(self._stdin_write)
                self._stdin_write = None
        self._stdin_read = stdin_fd
        self.stdout_reader: int | None = None
        self._stdout_fd = self._out.fileno()
        if stdout_pipe:
            self.stdout_reader, self._stdout_fd = os.pipe()
        self._thread = threading.Thread(target=self._run, args=(startup_timeout,), daemon=True)

    def start(self) -> EngineRun:
        self._thread.start()
        return self

    def write_stdin(self, data: bytes) -> None:
        assert self._stdin_write is not None
        os.write(self._stdin_write, data)

    def close_stdin(self) -> None:
        if self._stdin_write is not None:
            os.close(self._stdin_write)
            self._stdin_write = None

    def wait(self, timeout: float = 30) -> Outcome:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the native session did not end"
        for name, file in (("stdout", self._out), ("stderr", self._err)):
            file.seek(0)
            setattr(self.outcome, name, file.read())
            file.close()
        if self._stdin_read is not None:
            os.close(self._stdin_read)
        if self.stdout_reader is not None:
            os.close(self._stdout_fd)
        self.close_stdin()
        return self.outcome

    def _on_listening(self, listening: Listening) -> None:
        self.listening.append(listening)
        self.ready.set()

    def _run(self, startup_timeout: float) -> None:
        try:
            self.outcome.status = run_native(
                self.region,
                self.response,
                notice=self.outcome.notices.append,
                startup_timeout=startup_timeout,
                stdio=(self._stdin_read, self._stdout_fd, self._err.fileno()),
                on_listening=self._on_listening,
            )
        except BaseException as exc:
            self.outcome.error = exc
        finally:
            self.ready.set()


def run_session(
    region: FakeSsm,
    document: str | None = None,
    parameters: dict[str, list[str]] | None = None,
    *,
    stdin: bytes | None = None,
    during: Callable[[EngineRun], Any] | None = None,
    **plan: Any,
) -> Outcome:
    """Start a session of `document` and run it to its end."""
    kwargs: dict[str, Any] = {"Target": "i-0123456789abcdef0", **plan}
    if document:
        kwargs["DocumentName"] = document
    if parameters:
        kwargs["Parameters"] = parameters
    run = EngineRun(region, region.start_session(**kwargs), stdin=stdin).start()
    if during is not None:
        during(run)
    return run.wait()
