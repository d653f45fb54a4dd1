"""An ssmctl process running in the background (forward, proxy), for tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from typing import Any


class Background:
    """`python -m ssmctl ARGS` with pipes; read its lines, signal it, collect the end."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ssmctl", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )

    def line(self) -> str:
        assert self.proc.stdout is not None
        text = self.proc.stdout.readline().decode()
        assert text, f"ssmctl ended: {self.finish()}"
        return text

    def json_line(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.line())
        return value

    def signal(self, signum: int = signal.SIGINT) -> None:
        self.proc.send_signal(signum)

    def finish(self, timeout: float = 30) -> tuple[int, str, str]:
        """Wait for the end: (exit status, rest of stdout, stderr)."""
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out.decode(), err.decode()
