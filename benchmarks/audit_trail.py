"""S3 trail-file export: events per second, and peak memory at 10,000 vs 100,000 events.

    python benchmarks/audit_trail.py [--small 10000] [--large 100000]

A sandbox (subprocess) holds two trail buckets of real-format CloudTrail files (gzipped
`{"Records":[...]}`, 1,000 records a file, one other service's record per ten session
events). `ssmctl audit export --trail s3://...` runs on each in a fresh process
(tests/audit/memory_probe.py) that reports its peak resident set size (VmHWM) after the
imports and at the end; both runs side by side in one run. Goal (issue #4): peak memory
at 100,000 events within 1.2x of 10,000.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PROBE = ROOT / "tests" / "audit" / "memory_probe.py"
BEGIN = dt.datetime(2025, 2, 1, tzinfo=dt.timezone.utc)


def fill(s3: Any, bucket: str, count: int) -> float:
    from tests.audit import records

    started = time.monotonic()
    s3.create_bucket(Bucket=bucket)
    for key, body in records.trail_files("111122223333", BEGIN, count):
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    return time.monotonic() - started


def export(env: dict[str, str], bucket: str, out: Path) -> dict[str, Any]:
    argv = [sys.executable, str(PROBE), "audit", "export", "--out", str(out)]
    argv += ["--trail", f"s3://{bucket}", "--since", "2025-01-31", "--until", "2025-02-08"]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    report["lines"] = sum(1 for _ in out.open())
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    args = parser.parse_args()
    import os

    import boto3

    from ssmctl.sandbox.process import SandboxProcess

    with SandboxProcess() as sandbox, tempfile.TemporaryDirectory() as tmp:
        env = sandbox.env(base=os.environ)
        s3 = boto3.client(
            "s3",
            region_name="us-east-1",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )
        sizes = {"small": args.small, "large": args.large}
        for name, count in sizes.items():
            fill(s3, f"bench-trail-{name}", count)
        results = {
            name: export(env, f"bench-trail-{name}", Path(tmp) / f"{name}.jsonl") for name in sizes
        }
    print("| events | exported | seconds | events/s | peak RSS | RSS above imports |")
    print("|---:|---:|---:|---:|---:|---:|")
    for name, count in sizes.items():
        r = results[name]
        grew = r["peak_kb"] - r["baseline_kb"]
        print(
            f"| {count:,} | {r['lines']:,} | {r['seconds']:.1f} | {count / r['seconds']:,.0f} | "
            f"{r['peak_kb'] / 1024:.1f} MB | {grew / 1024:.1f} MB |"
        )
    small, large = results["small"], results["large"]
    peak = large["peak_kb"] / small["peak_kb"]
    grew = (large["peak_kb"] - large["baseline_kb"]) / (small["peak_kb"] - small["baseline_kb"])
    print(f"\npeak RSS {args.large:,} / {args.small:,}: **{peak:.2f}x** (goal <= 1.2x)")
    print(f"growth above the imports {args.large:,} / {args.small:,}: **{grew:.2f}x**")


if __name__ == "__main__":
    main()
