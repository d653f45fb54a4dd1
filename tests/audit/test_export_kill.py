"""A killed export leaves no partial file, no temporary file, and the old export intact."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ssmctl.sandbox import Sandbox, TrailThrottle
from tests.audit import records
from tests.audit.conftest import iso, window


def _written(pid: int, directory: Path) -> int:
    """Bytes in the export's file being written (an unnamed one in `directory`)."""
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith(str(directory)):
            return os.stat(fd).st_size
    return 0


def test_sigkill_mid_export(sandbox: Sandbox, tmp_path: Path) -> None:
    begin, end = window(hours=9)
    raw = records.sessions_history(
        ["alice", "bob"], begin, 600, account=sandbox.account_id, step=dt.timedelta(seconds=48)
    )
    sandbox.add_history(raw, bucket=False)
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    out = out_dir / "audit.jsonl"
    out.write_text('{"previous": "good export"}\n')
    argv = [sys.executable, "-m", "ssmctl", "audit", "export", "--out", str(out)]
    argv += ["--since", iso(begin), "--until", iso(end), "--debug"]
    before = sandbox.trail_throttle
    sandbox.trail_throttle = TrailThrottle(rate=2, burst=2)  # ~6 s of LookupEvents calls
    try:
        export = subprocess.Popen(
            argv, env=dict(os.environ), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
        )
        assert export.stderr is not None
        # Kill it mid-way: once it has written the first window's events (6 hours) and
        # is reading the next.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _written(export.pid, out_dir) < 100_000:
            export.stderr.readline()
        assert _written(export.pid, out_dir) >= 100_000
        export.send_signal(signal.SIGKILL)
        assert export.wait(timeout=10) == -signal.SIGKILL
        export.stderr.close()
    finally:
        sandbox.trail_throttle = before
    assert out.read_text() == '{"previous": "good export"}\n'
    assert sorted(p.name for p in out_dir.iterdir()) == ["audit.jsonl"]
    # The next export completes, replacing the old one.
    sandbox.trail_throttle = None
    try:
        done = subprocess.run(
            argv[:-1], env=dict(os.environ), capture_output=True, text=True, check=False
        )
    finally:
        sandbox.trail_throttle = before
    assert done.returncode == 0, done.stderr
    ids = [json.loads(line)["event_id"] for line in out.read_text().splitlines()]
    assert ids == [r["eventID"] for r in raw]
    assert sorted(p.name for p in out_dir.iterdir()) == ["audit.jsonl"]
