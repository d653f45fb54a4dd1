"""Start-up time of `ssmctl --version` and `ssmctl --help` against `python -c pass`.

    python benchmarks/startup.py [--runs 30]

Every command runs in turn, round after round (so machine noise hits all alike), and
the medians are compared as ratios to `python -c pass` on the same interpreter.
Goals (issue #2): --version <= 1.6x, --help <= 2x.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _ssmctl() -> str:
    beside = Path(sys.executable).with_name("ssmctl")
    found = str(beside) if beside.exists() else shutil.which("ssmctl")
    if not found:
        raise SystemExit("ssmctl is not installed in this environment (pip install -e .)")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    ssmctl = _ssmctl()
    py = sys.executable
    cases = {
        "python -c pass": [py, "-c", "pass"],
        "ssmctl --version": [ssmctl, "--version"],
        "ssmctl --help": [ssmctl, "--help"],
        "ssmctl sessions --help (Click)": [ssmctl, "sessions", "--help"],
        "python -c 'import click'": [py, "-c", "import click"],
        "python -c 'import boto3'": [py, "-c", "import boto3"],
    }
    env = dict(os.environ, COLUMNS="100")
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, argv in cases.items():
            start = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, env=env, check=True)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["python -c pass"])
    print(f"{'command':34} {'median ms':>10} {'ratio':>7}")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:34} {median * 1000:10.1f} {median / base:6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
