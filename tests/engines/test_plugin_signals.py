"""Signals sent to ssmctl while the plugin runs (run_plugin in a driver process)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .helpers import RESPONSE, FakePlugin, driver_result, process_gone, start_driver


def got_signal(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda record: {"signal": name} in record["events"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_stop_signal_stops_the_plugin_and_terminates_the_session(
    fake: FakePlugin, tmp_path: Path, signum: int
) -> None:
    process, result = start_driver(
        fake, tmp_path, extra_env={"FAKE_PLUGIN_MODE": "silent"}, stdin=subprocess.DEVNULL
    )
    record = fake.wait_for_record(lambda r: True)  # the plugin runs: the guard is in place
    os.kill(process.pid, signum)
    outcome = driver_result(process, result)
    name = signal.Signals(signum).name
    assert outcome["status"] == 128 + signum
    assert outcome["terminated"] == 1
    assert outcome["notices"] == [
        f"received {name}: stopped the plugin and terminated session {RESPONSE['SessionId']}"
    ]
    assert process_gone(record["pid"])


def test_keyboard_signals_reach_the_plugin_and_spare_ssmctl(
    fake: FakePlugin, tmp_path: Path
) -> None:
    # In a pipeline the plugin shares ssmctl's process group, so the terminal's Ctrl-C,
    # Ctrl-\ and Ctrl-Z go to both: the plugin must get them and ssmctl must survive.
    process, result = start_driver(
        fake,
        tmp_path,
        extra_env={"FAKE_PLUGIN_MODE": "interactive"},
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    assert process.stdin is not None
    fake.wait_for_record(lambda r: {"ready": True} in r["events"])
    for signum in (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP):
        os.killpg(process.pid, signum)
        fake.wait_for_record(got_signal(signal.Signals(signum).name))
    time.sleep(0.05)
    assert process.poll() is None
    process.stdin.write(b"q")
    process.stdin.close()
    outcome = driver_result(process, result)
    assert outcome == {"status": 0, "error": None, "terminated": 0, "notices": []}
