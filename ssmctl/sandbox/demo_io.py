"""What `ssmctl sandbox demo` drives: real ssmctl processes, a shell fed one line at a
time, and a small web server standing in for a service on an instance.

Every ssmctl the demo runs is `python -m ssmctl` of this installation, in an environment
that points it at the sandbox and at an empty config file (the user's own config,
aliases and engine choice must not change what the demo shows).
"""

from __future__ import annotations

import http.server
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

TIMEOUT = 60.0
"""Seconds any one ssmctl command of the demo may take."""

_PROMPT = re.compile(rb"[#$] \Z")


def demo_environment(sandbox_env: Mapping[str, str], workdir: Path, width: int) -> dict[str, str]:
    """The sandbox's environment for ssmctl, minus the user's ssmctl settings, plus an
    empty config file, plain output and the terminal's width."""
    config = workdir / "config.yaml"
    config.write_text("# ssmctl sandbox demo: no settings\n", encoding="utf-8")
    env = {k: v for k, v in sandbox_env.items() if not k.startswith("SSMCTL_")}
    env.update(SSMCTL_CONFIG=str(config), NO_COLOR="1", COLUMNS=str(width))
    return env


def ssmctl_argv(args: Sequence[str]) -> list[str]:
    """The command line of this installation's ssmctl with `args`."""
    return [sys.executable, "-m", "ssmctl", *args]


def run_ssmctl(
    args: Sequence[str], env: Mapping[str, str], *, timeout: float = TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run ssmctl to its end; stdout and stderr captured (TimeoutExpired past `timeout`)."""
    return subprocess.run(
        ssmctl_argv(args),
        env=dict(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class _Collector(threading.Thread):
    """Reads a pipe to its end into a buffer others can wait on."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(daemon=True, name="ssmctl-demo-reader")
        self._stream = stream
        self._lock = threading.Condition()
        self.data = bytearray()
        self.ended = False

    def run(self) -> None:
        try:
            while chunk := os.read(self._stream.fileno(), 65536):
                with self._lock:
                    self.data += chunk
                    self._lock.notify_all()
        except OSError:
            pass
        finally:
            with self._lock:
                self.ended = True
                self._lock.notify_all()

    def wait_for(self, pattern: re.Pattern[bytes], start: int, timeout: float) -> bool:
        """Wait until `pattern` matches the data after offset `start`."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not pattern.search(bytes(self.data[start:])):
                left = deadline - time.monotonic()
                if left <= 0 or self.ended:
                    return False
                self._lock.wait(left)
            return True

    def first_line(self, timeout: float) -> str | None:
        """The first complete line, or None when none came in time."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while b"\n" not in self.data:
                left = deadline - time.monotonic()
                if left <= 0 or self.ended:
                    return None
                self._lock.wait(left)
            return bytes(self.data).split(b"\n", 1)[0].decode("utf-8", "replace")


class Background:
    """An ssmctl process the demo talks to while it runs (a shell, a port forward)."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str]) -> None:
        self.args = list(args)
        self.process = subprocess.Popen(
            ssmctl_argv(args),
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self.stdout = _Collector(self.process.stdout)
        self.stderr = _Collector(self.process.stderr)
        self.stdout.start()
        self.stderr.start()
        self._prompt_from = 0

    def type_line(self, line: str, timeout: float = TIMEOUT) -> bool:
        """Wait for a shell prompt, then type `line` (True when the prompt came)."""
        if not self.stdout.wait_for(_PROMPT, self._prompt_from, timeout):
            return False
        self._prompt_from = len(self.stdout.data)
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(line.encode() + b"\n")
        stdin.flush()
        return True

    def wait(self, timeout: float = TIMEOUT) -> int:
        """Its exit status (stdin closed first); TimeoutExpired past `timeout`."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        status = self.process.wait(timeout)
        self.stdout.join(timeout)
        self.stderr.join(timeout)
        return status

    def stop(self) -> None:
        """Kill it if it still runs (the demo failed or was interrupted)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def output(self) -> str:
        return self.stdout.data.decode("utf-8", "replace")

    def errors(self) -> str:
        return self.stderr.data.decode("utf-8", "replace")


class WebService:
    """A one-page web server on 127.0.0.1: the service an instance would run."""

    def __init__(self, body: str) -> None:
        payload = body.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the demo narrates."""

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name="ssmctl-demo-web"
        )

    def __enter__(self) -> WebService:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
