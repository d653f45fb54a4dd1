"""A session whose socket drops mid-transfer is resumed (ResumeSession through the
sandbox, a new token, the same ClientId) with nothing lost or repeated."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.e2e.conftest import Sessions

# Paced output (at least 2.5 s): both drops land while the command still writes.
SCRIPT = "for i in $(seq 0 49); do seq $((i*1000+1)) $((i*1000+1000)); sleep 0.05; done"


def test_dropped_socket_mid_transfer_is_resumed(sessions: Sessions) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "ssmctl", "exec", "web-1", "--no-stdin", "--", "sh", "-c", SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdout is not None
    [session_id] = sessions.wait_new()
    received = b""
    for until in (2000, 15000):  # drop twice, once output has been flowing for a while
        while received.count(b"\n") < until:
            line = process.stdout.readline()
            assert line, "ssmctl ended early"
            received += line
        _wait_connected(sessions, session_id)  # back from the previous drop
        assert sessions.sandbox.agent.drop_socket(session_id)
    received += process.stdout.read()  # the same buffered reader: nothing skipped
    assert process.wait(timeout=60) == 0
    assert received.decode() == "".join(f"{n}\n" for n in range(1, 50001))
    assert sessions.ended(session_id).end_reason == "exit"
    resumed = [
        e
        for e in sessions.sandbox.trail.events()
        if e.event_name == "ResumeSession" and session_id in str(e.record["requestParameters"])
    ]
    assert len(resumed) == 2


def _wait_connected(sessions: Sessions, session_id: str) -> None:
    deadline = time.monotonic() + 20
    while sessions.record(session_id).status != "Connected":
        assert time.monotonic() < deadline, sessions.record(session_id).status
        time.sleep(0.01)
