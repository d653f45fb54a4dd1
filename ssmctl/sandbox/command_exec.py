"""Running one Run Command invocation for real: a local process standing in for the
agent's plugin on an emulated node.

The script runs as the user running the sandbox, in a process group of its own (so a
timeout or a cancel kills everything it started), with the node's identity in its
environment. Output is captured up to what AWS keeps; the rest is read and dropped so
a chatty command never blocks on a full pipe.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

OUTPUT_LIMIT = 24_000
"""Characters of stdout and of stderr AWS returns (StandardOutputContent, ...)."""
_KEEP_BYTES = OUTPUT_LIMIT * 4  # enough bytes for 24,000 characters of any UTF-8 text
_READ = 65_536
# Variables of the sandbox's own environment a node's commands do not get: AWS
# credentials and endpoints (a real node has its own) and ssmctl's settings.
_DROPPED_PREFIXES = ("AWS_", "SSMCTL_")


@dataclasses.dataclass(frozen=True)
class Script:
    """What to run, where, and for how long."""

    argv: tuple[str, ...]
    cwd: Path
    env: Mapping[str, str]
    timeout: float


@dataclasses.dataclass(frozen=True)
class Result:
    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool = False
    killed: bool = False
    """Stopped by `kill()` (a cancel)."""
    started: bool = True


def node_environment(node_id: str, region: str, cwd: Path) -> dict[str, str]:
    """The environment of a node's commands: the sandbox's, minus AWS credentials and
    ssmctl settings, plus what the SSM agent sets (AWS_SSM_INSTANCE_ID, AWS_SSM_REGION_NAME)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED_PREFIXES)}
    env.update(AWS_SSM_INSTANCE_ID=node_id, AWS_SSM_REGION_NAME=region, PWD=str(cwd))
    return env


class _Capture(threading.Thread):
    """Reads a pipe to its end, keeping the first bytes."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(daemon=True, name="ssmctl-sandbox-output")
        self._stream = stream
        self._kept = bytearray()

    def run(self) -> None:
        with self._stream:
            while True:
                try:
                    chunk = os.read(self._stream.fileno(), _READ)
                except (OSError, ValueError):
                    return
                if not chunk:
                    return
                room = _KEEP_BYTES - len(self._kept)
                if room > 0:
                    self._kept += chunk[:room]

    def text(self) -> str:
        return self._kept.decode("utf-8", errors="replace")[:OUTPUT_LIMIT]


class Execution:
    """One process run; `kill()` may be called from any thread at any time."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._killed = False
        self._finished = False

    def kill(self) -> None:
        """Stop the process group now (before it starts: it never starts)."""
        with self._lock:
            self._killed = True
            # Once finished, the process group is gone and its id may belong to another.
            process = None if self._finished else self._process
        if process is not None:
            _kill_group(process)

    def run(self) -> Result:
        """Start the process and wait for it and its output (blocking)."""
        script = self.script
        with self._lock:
            if self._killed:
                return Result(-1, "", "", killed=True, started=False)
            try:
                process = subprocess.Popen(
                    list(script.argv),
                    cwd=script.cwd,
                    env=dict(script.env),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    start_new_session=True,
                )
            except OSError as exc:
                return Result(127, "", f"{script.argv[0]}: {exc.strerror or exc}\n")
            self._process = process
        assert process.stdout is not None
        assert process.stderr is not None
        readers = (_Capture(process.stdout), _Capture(process.stderr))
        for reader in readers:
            reader.start()
        deadline = time.monotonic() + script.timeout
        timed_out = False
        try:
            process.wait(timeout=script.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill_group(process)
            process.wait()
        # Output ends when every process holding the pipes is gone: a command that left a
        # background job writing to them runs into the timeout, as on a real node.
        for reader in readers:
            reader.join(max(0.0, deadline - time.monotonic()))
        if any(r.is_alive() for r in readers):
            timed_out = True
            _kill_group(process)
            for reader in readers:
                reader.join(1.0)
        with self._lock:
            killed = self._killed
            self._finished = True
        code = process.returncode
        if code < 0:
            code = 128 - code  # killed by a signal: the shell's convention
        stdout, stderr = readers[0].text(), readers[1].text()
        return Result(code, stdout, stderr, timed_out=timed_out and not killed, killed=killed)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
