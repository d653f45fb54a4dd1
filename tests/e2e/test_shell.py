"""`ssmctl connect --engine native` end to end on a real pty: a remote shell (sh on a pty at
the far end), window size, Ctrl-C, the terminal restored, signals, start-up timeout."""

from __future__ import annotations

import fcntl
import os
import signal
import struct
import sys
import termios
import time

from tests.conftest import RunCli
from tests.e2e.conftest import Sessions
from tests.native.far_end import FarEnd
from tests.ptyrun import PtyProcess

SHELL = [sys.executable, "-m", "ssmctl", "connect", "web-1", "--engine", "native"]
PROMPT = "# " if os.geteuid() == 0 else "$ "  # the sandbox runs the shell as its own user


def _finish(pty: PtyProcess) -> tuple[int, list[object], str]:
    """Wait for ssmctl to end: its status, the terminal's settings after it, its output."""
    while pty._read(30):
        pass
    status = pty.proc.wait(timeout=30)
    after = termios.tcgetattr(pty.master)
    os.close(pty.master)
    return status, after, pty.output.decode(errors="replace")


def _resize(pty: PtyProcess, cols: int, rows: int) -> None:
    # The kernel sends SIGWINCH to ssmctl, the pty's foreground process.
    fcntl.ioctl(pty.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def test_shell_prompt_size_resize_ctrl_c_and_the_terminal_restored(sessions: Sessions) -> None:
    pty = PtyProcess(SHELL, os.environ, cols=120, rows=40)
    before = termios.tcgetattr(pty.master)
    pty.expect(PROMPT)
    pty.send(b"stty size\r")
    pty.expect("40 120")
    _resize(pty, 99, 33)
    time.sleep(0.2)
    pty.send(b"stty size\r")
    pty.expect("33 99")
    pty.send(b"sleep 30; echo not-interrupted\r")
    time.sleep(0.3)
    pty.send(b"\x03")  # Ctrl-C: a byte for the remote pty, which interrupts sleep
    pty.send(b"echo after-$((40 + 2))\r")
    pty.expect("after-42")
    pty.send(b"exit\r")
    status, after, output = _finish(pty)
    assert status == 0, output
    assert "\nnot-interrupted" not in output  # sleep was interrupted, so was its list
    assert "Exiting session with sessionId: " in output
    assert after == before
    record = sessions.ended(sessions.new()[0])
    assert record.end_reason == "exit"
    assert record.document_name == "SSM-SessionManagerRunShell"


def test_sigterm_terminates_the_session_and_restores_the_terminal(sessions: Sessions) -> None:
    pty = PtyProcess(SHELL, os.environ)
    before = termios.tcgetattr(pty.master)
    pty.expect(PROMPT)
    pty.proc.send_signal(signal.SIGTERM)
    status, after, output = _finish(pty)
    assert status == 128 + signal.SIGTERM
    assert after == before
    [session_id] = sessions.new()
    assert f"SIGTERM: terminated session {session_id}" in output
    assert sessions.ended(session_id).end_reason == "terminated"


def test_script_on_stdin_without_a_terminal(cli_process: RunCli, sessions: Sessions) -> None:
    result = cli_process("connect", "web-1", "--engine", "native", input="echo hi-$((6*7))\n")
    assert result.exit_code == 0, result.stderr
    assert "hi-42" in result.stdout
    assert "Exiting session with sessionId" in result.stderr  # stdout is the session's


def test_startup_timeout_terminates_the_session(
    cli_process: RunCli, sessions: Sessions, silent_far_end: FarEnd
) -> None:
    result = cli_process("connect", "web-1", "--engine", "native", "--startup-timeout", "1")
    assert result.exit_code == 4
    assert "sent no output or handshake within 1 s" in result.stderr
    [session_id] = sessions.new()
    assert f"session {session_id} was terminated" in result.stderr
    assert sessions.record(session_id).status == "Terminated"
