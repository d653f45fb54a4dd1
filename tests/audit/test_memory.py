"""100,000 events export in the memory 10,000 take (measured in a subprocess)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from ssmctl.sandbox import Sandbox
from tests.audit import records
from tests.audit.conftest import Clients

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "tests" / "audit" / "memory_probe.py"
BEGIN = dt.datetime(2025, 2, 1, tzinfo=dt.timezone.utc)


def _trail(clients: Clients, account: str, count: int) -> str:
    bucket = f"memory-{uuid.uuid4().hex[:10]}"
    s3 = clients("s3")
    s3.create_bucket(Bucket=bucket)
    for key, body in records.trail_files(account, BEGIN, count):
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    return bucket


def _export(bucket: str, out: Path) -> dict[str, Any]:
    argv = [sys.executable, str(PROBE), "audit", "export", "--out", str(out)]
    argv += ["--trail", f"s3://{bucket}", "--since", "2025-01-31", "--until", "2025-02-05"]
    done = subprocess.run(
        argv, capture_output=True, text=True, env=dict(os.environ), cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    assert report["exit"] == 0, done.stderr
    return report


def test_export_memory_does_not_grow_with_the_event_count(
    sandbox: Sandbox, clients: Clients, tmp_path: Path
) -> None:
    small = _export(_trail(clients, sandbox.account_id, 10_000), tmp_path / "small.jsonl")
    large = _export(_trail(clients, sandbox.account_id, 100_000), tmp_path / "large.jsonl")
    with (tmp_path / "large.jsonl").open() as lines:
        assert sum(1 for _ in lines) == 100_000
    assert sum(1 for _ in (tmp_path / "small.jsonl").open()) == 10_000
    # What the export added on top of the imports (VmHWM; exec resets it).
    grew_small = small["peak_kb"] - small["baseline_kb"]
    grew_large = large["peak_kb"] - large["baseline_kb"]
    assert grew_large <= 1.5 * grew_small, (small, large)
