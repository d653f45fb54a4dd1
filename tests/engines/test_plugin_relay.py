"""The relay's judgement of the plugin's first output, and draining after it exits."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ssmctl.engines.plugin import run_plugin
from ssmctl.engines.relay import FirstOutput, exit_status

from .helpers import ENDPOINT, REGION, REQUEST, RESPONSE, FakePlugin, Recorder

SID = "alice-0123456789abcdef0"
BANNER = f"\nStarting session with SessionId: {SID}\n".encode()


def fed(*chunks: bytes) -> FirstOutput:
    watch = FirstOutput(SID)
    for chunk in chunks:
        watch.feed(chunk)
    return watch


def test_nothing_is_not_output() -> None:
    assert not fed().shown


def test_the_banner_is_not_output_even_in_pieces_or_with_crlf() -> None:
    assert not fed(BANNER).shown
    assert not fed(BANNER[:5], BANNER[5:]).shown
    assert not fed(BANNER.replace(b"\n", b"\r\n")).shown


def test_anything_beyond_the_banner_is_output() -> None:
    assert fed(BANNER, b"$").shown
    assert fed(BANNER + b"\x1b[?2004h").shown


def test_anything_else_is_output_at_once() -> None:
    assert fed(b"x").shown
    assert fed(b"\nStarting session with SessionId: someone-else\n").shown
    assert fed(b"Port 8080 opened for sessionId " + SID.encode()).shown


def test_start_failure_is_recognised() -> None:
    assert fed(BANNER, b"Cannot perform start session: EOF\n").failed_to_start
    assert fed(b"Cannot perform start session: bad response\n").failed_to_start
    assert not fed(BANNER, b"ubuntu@host:~$ ").failed_to_start
    assert not fed(BANNER, b"$ echo Cannot perform start session\n").failed_to_start


def test_exit_status_as_a_shell_reports_it() -> None:
    assert exit_status(0) == 0
    assert exit_status(3) == 3
    assert exit_status(-signal.SIGKILL) == 137


@pytest.fixture
def stdio(tmp_path: Path) -> Iterator[tuple[int, int, int]]:
    fds = (
        os.open(os.devnull, os.O_RDONLY),
        os.open(tmp_path / "out", os.O_WRONLY | os.O_CREAT),
        os.open(tmp_path / "err", os.O_WRONLY | os.O_CREAT),
    )
    yield fds
    for fd in fds:
        os.close(fd)


def test_a_leftover_process_holding_the_output_does_not_hang_ssmctl(
    fake: FakePlugin, stdio: tuple[int, int, int], tmp_path: Path
) -> None:
    calls = Recorder()
    started = time.monotonic()
    try:
        status = run_plugin(
            fake.plugin(),
            RESPONSE,
            REQUEST,
            region=REGION,
            profile=None,
            endpoint_url=ENDPOINT,
            terminate=calls.terminate,
            notice=calls.notice,
            env={**fake.env, "FAKE_PLUGIN_ORPHAN": "10", "FAKE_PLUGIN_OUTPUT": "last words"},
            stdio=stdio,
        )
        assert time.monotonic() - started < 5
    finally:
        os.kill(fake.record()["orphan_pid"], signal.SIGKILL)
    assert status == 0
    assert (tmp_path / "out").read_text(encoding="utf-8") == "last words\n"
    assert calls.terminated == 0
