"""A throttling storm loses nothing: concurrent exports of several regions against the
sandbox's 2 LookupEvents calls per second per region, each export still complete."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

from ssmctl.sandbox import Sandbox, TrailThrottle
from tests.audit import records
from tests.audit.conftest import iso, window

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")


def test_competing_exports_of_three_regions_lose_nothing(sandbox: Sandbox, tmp_path: Path) -> None:
    begin, end = window()
    seeded: set[str] = set()
    for n, region in enumerate(REGIONS):
        raw = records.sessions_history(
            [f"user{n}", "ops"],
            begin + dt.timedelta(seconds=n),
            400,
            region=region,
            account=sandbox.account_id,
        )
        sandbox.add_history(raw, bucket=False)
        seeded |= {r["eventID"] for r in raw}
    before = sandbox.trail_throttle
    sandbox.trail_throttle = TrailThrottle(rate=2, burst=2)
    argv = [sys.executable, "-m", "ssmctl", "audit", "export", "--since", iso(begin)]
    argv += ["--until", iso(end), "--region", ",".join(REGIONS), "--debug"]
    try:
        # Two processes, each pacing itself at the limit: together twice what AWS allows
        # (about 10 calls per region each, so that they overlap whatever their start-up).
        exports = [
            subprocess.Popen(
                [*argv, "--out", str(tmp_path / f"export-{n}.jsonl")],
                env=dict(os.environ),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for n in range(2)
        ]
        outcomes = [process.communicate(timeout=240) for process in exports]
    finally:
        sandbox.trail_throttle = before
    for n, (process, (_, stderr)) in enumerate(zip(exports, outcomes, strict=True)):
        assert process.returncode == 0, stderr
        lines = (tmp_path / f"export-{n}.jsonl").read_text().splitlines()
        ids = [json.loads(line)["event_id"] for line in lines]
        assert len(ids) == len(set(ids)) == len(seeded) == 1200
        assert set(ids) == seeded
        assert f"{len(seeded)} events" in stderr
    # The storm was real: calls were refused (HTTP 400 ThrottlingException) and retried.
    calls = [line for _, err in outcomes for line in err.splitlines() if "LookupEvents" in line]
    assert any("HTTP 400" in line for line in calls), calls
