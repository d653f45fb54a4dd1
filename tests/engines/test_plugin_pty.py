"""run_plugin on a terminal: the plugin gets a pty of its own, driven here from a real pty.

The driver process (run_plugin) has the test's pty as its controlling terminal, exactly as
ssmctl has the user's; the test plays the user and the terminal emulator.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ssmctl.engines import terminal as terminal_module
from ssmctl.engines.plugin import run_plugin
from ssmctl.errors import PluginError

from .helpers import (
    ENDPOINT,
    REGION,
    REQUEST,
    RESPONSE,
    FakePlugin,
    Recorder,
    driver_result,
    start_driver,
)

RAW_OFF = termios.ICANON | termios.ECHO | termios.ISIG


def set_size(fd: int, cols: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


@dataclasses.dataclass
class Terminal:
    """The test's side of the pty the driver runs on."""

    master: int
    slave: int
    output: bytearray = dataclasses.field(default_factory=bytearray)

    def read_until(self, needle: bytes, timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.output:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"never saw {needle!r}; got {bytes(self.output)!r}")
            ready, _, _ = select.select([self.master], [], [], remaining)
            if ready:
                try:
                    self.output += os.read(self.master, 4096)
                except OSError:
                    raise AssertionError(f"pty closed before {needle!r}") from None

    def drain(self) -> None:
        while select.select([self.master], [], [], 0)[0]:
            try:
                if not os.read(self.master, 4096):
                    return
            except OSError:
                return


@pytest.fixture
def terminal() -> Iterator[Terminal]:
    master, slave = pty.openpty()
    set_size(slave, 100, 30)
    yield Terminal(master, slave)
    os.close(master)
    os.close(slave)


def start(
    fake: FakePlugin, tmp_path: Path, terminal: Terminal, mode: str, **options: Any
) -> tuple[subprocess.Popen[bytes], Path]:
    return start_driver(
        fake,
        tmp_path,
        controlling_tty=True,
        extra_env={"FAKE_PLUGIN_MODE": mode},
        stdin=terminal.slave,
        stdout=terminal.slave,
        stderr=terminal.slave,
        **options,
    )


def test_plugin_runs_on_its_own_pty_with_the_users_keys_and_size(
    fake: FakePlugin, tmp_path: Path, terminal: Terminal
) -> None:
    before = termios.tcgetattr(terminal.slave)
    process, result = start(fake, tmp_path, terminal, "interactive")
    terminal.read_until(b"ready")
    record = fake.wait_for_record(lambda r: {"ready": True} in r["events"])
    assert record["isatty"] == {"stdin": True, "stdout": True, "stderr": True}
    assert record["foreground"] is True  # the pty is its controlling terminal
    assert record["size"] == [100, 30]  # copied from the user's terminal at start

    # The user's terminal is raw while the plugin runs: keys reach ssmctl as bytes.
    assert termios.tcgetattr(terminal.slave)[3] & RAW_OFF == 0

    os.write(terminal.master, b"x")
    terminal.read_until(b"got 78")

    set_size(terminal.master, 120, 40)  # the kernel sends the driver SIGWINCH
    terminal.read_until(b"size 120x40")

    # Ctrl-C is a byte to ssmctl; the plugin's pty turns it into the plugin's SIGINT.
    os.write(terminal.master, b"\x03")
    terminal.read_until(b"got SIGINT")
    assert process.poll() is None

    os.write(terminal.master, b"q")
    outcome = driver_result(process, result)
    assert outcome == {"status": 0, "error": None, "terminated": 0, "notices": []}
    events = fake.record()["events"]
    assert {"input": "78"} in events
    assert {"size": [120, 40]} in events
    assert {"signal": "SIGINT"} in events
    assert termios.tcgetattr(terminal.slave) == before


def test_sigterm_restores_the_terminal_and_terminates(
    fake: FakePlugin, tmp_path: Path, terminal: Terminal
) -> None:
    before = termios.tcgetattr(terminal.slave)
    process, result = start(fake, tmp_path, terminal, "interactive")
    terminal.read_until(b"ready")
    os.kill(process.pid, signal.SIGTERM)
    outcome = driver_result(process, result)
    terminal.drain()
    assert outcome["status"] == 128 + signal.SIGTERM
    assert outcome["terminated"] == 1
    assert termios.tcgetattr(terminal.slave) == before


def test_startup_timeout_restores_the_terminal(
    fake: FakePlugin, tmp_path: Path, terminal: Terminal
) -> None:
    before = termios.tcgetattr(terminal.slave)
    process, result = start(fake, tmp_path, terminal, "silent", startup_timeout=0.5)
    outcome = driver_result(process, result)
    terminal.drain()
    assert "showed nothing within 0.5 s" in outcome["error"]
    assert outcome["terminated"] == 1
    assert termios.tcgetattr(terminal.slave) == before


def test_no_pty_available_is_a_plugin_error_and_terminates(
    fake: FakePlugin, terminal: Terminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_pty(fd: int) -> tuple[int, int]:
        raise OSError(errno.EAGAIN, "Out of pseudo-terminal devices")

    monkeypatch.setattr(terminal_module, "open_pty_like", no_pty)
    calls = Recorder()
    with pytest.raises(PluginError, match=r"cannot relay the session: .*Out of pseudo-terminal"):
        run_plugin(
            fake.plugin(),
            RESPONSE,
            REQUEST,
            region=REGION,
            profile=None,
            endpoint_url=ENDPOINT,
            terminate=calls.terminate,
            notice=calls.notice,
            env=fake.env,
            stdio=(terminal.slave, terminal.slave, terminal.slave),
        )
    assert calls.terminated == 1
    assert not fake.record_path.exists()


def test_pty_mode_in_process_restores_the_terminal_and_handlers(
    fake: FakePlugin, terminal: Terminal
) -> None:
    before = termios.tcgetattr(terminal.slave)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGWINCH, signal.SIGCONT)}
    calls = Recorder()
    status = run_plugin(
        fake.plugin(),
        RESPONSE,
        REQUEST,
        region=REGION,
        profile=None,
        endpoint_url=ENDPOINT,
        terminate=calls.terminate,
        notice=calls.notice,
        env={**fake.env, "FAKE_PLUGIN_EXIT": "7"},
        stdio=(terminal.slave, terminal.slave, terminal.slave),
    )
    assert status == 7
    assert calls.terminated == 1
    terminal.read_until(f"fake plugin: session {RESPONSE['SessionId']}\r\n".encode())
    record = fake.record()
    assert record["isatty"] == {"stdin": True, "stdout": True, "stderr": True}
    assert record["foreground"] is True
    assert record["size"] == [100, 30]
    assert termios.tcgetattr(terminal.slave) == before
    assert {s: signal.getsignal(s) for s in handlers} == handlers
