"""A sandbox in a child process (`python -m ssmctl.sandbox`): for a custom fleet next to
the in-process sandbox (moto allows one per process), or to test the command itself."""

from __future__ import annotations

import os
import queue
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO

from ssmctl.sandbox.errors import SandboxError
from ssmctl.sandbox.server import UNSET_VARS


class SandboxProcess:
    """Starts `python -m ssmctl.sandbox`, reads its export lines, stops it with SIGTERM."""

    def __init__(
        self,
        fleet: str | os.PathLike[str] | None = None,
        *,
        user: str | None = None,
        port: int = 0,
        startup_timeout: float = 60.0,
    ) -> None:
        self.fleet = Path(fleet) if fleet is not None else None
        self.user = user
        self.port = port
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[str] | None = None
        self.exports: dict[str, str] = {}
        self.unset: tuple[str, ...] = ()
        self.banner = ""
        self._stderr: IO[str] | None = None
        self._stderr_text = ""

    def start(self) -> SandboxProcess:
        argv = [sys.executable, "-m", "ssmctl.sandbox", "--port", str(self.port)]
        if self.fleet is not None:
            argv += ["--fleet", str(self.fleet)]
        if self.user is not None:
            argv += ["--user", self.user]
        # Closed by stop(); a temporary file cannot fill up and block the child like a pipe.
        self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        # The child must not inherit credentials or endpoints it could reach AWS with.
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=self._stderr, text=True, env=child_env
        )
        lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=_pump, args=(self.process.stdout, lines), daemon=True).start()
        deadline = time.monotonic() + self.startup_timeout
        while not self.banner:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise SandboxError(
                    f"the sandbox did not start within {self.startup_timeout:g} s"
                ) from None
            if line is None:
                code = self.process.wait()
                raise SandboxError(
                    f"the sandbox exited with status {code}: {self.stderr().strip()}"
                )
            self._read(line.rstrip("\n"))
        return self

    def _read(self, line: str) -> None:
        words = shlex.split(line)
        if line.startswith("#"):
            self.banner = line
        elif words[:1] == ["export"]:
            key, _, value = words[1].partition("=")
            self.exports[key] = value
        elif words[:1] == ["unset"]:
            self.unset = tuple(words[1:])

    def stderr(self) -> str:
        """What the child wrote to stderr so far."""
        if self._stderr is None:
            return self._stderr_text
        self._stderr.seek(0)
        return self._stderr.read()

    @property
    def endpoint_url(self) -> str:
        return self.exports["AWS_ENDPOINT_URL"]

    @property
    def region(self) -> str:
        return self.exports["AWS_REGION"]

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The exported variables; with `base`, a whole environment as `Sandbox.env` makes it."""
        if base is None:
            return dict(self.exports)
        drop = set(self.unset) | set(UNSET_VARS)
        kept = {
            k: v for k, v in base.items() if k not in drop and not k.startswith("AWS_ENDPOINT_URL_")
        }
        return {**kept, **self.exports}

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGTERM, wait, then kill if needed; returns the exit status."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()
        if self._stderr is not None:
            self._stderr_text = self.stderr()
            self._stderr.close()
            self._stderr = None
        return process.returncode

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _pump(stream: IO[str] | None, lines: queue.Queue[str | None]) -> None:
    if stream is not None:
        for line in stream:
            lines.put(line)
    lines.put(None)
