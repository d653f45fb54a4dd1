"""Run `ssmctl ARGS` in this process and print its peak memory as JSON (for test_memory
and benchmarks/audit_memory.py).

    python tests/audit/memory_probe.py audit export --out FILE ...

Prints {"exit": code, "baseline_kb": ..., "peak_kb": ..., "seconds": ...}: the peak
resident set size (VmHWM, which exec resets) once everything is imported, and at the
end of the command.
"""

from __future__ import annotations

import json
import sys
import time


def high_water_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(argv: list[str]) -> None:
    import boto3  # noqa: F401  (imported up front: the baseline holds what every run needs)
    import botocore.session  # noqa: F401

    import ssmctl.audit.export
    import ssmctl.audit.trail_files
    import ssmctl.cli.audit  # noqa: F401
    from ssmctl.cli.app import run

    baseline = high_water_kb()
    started = time.monotonic()
    code = 0
    try:
        run(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    report = {
        "exit": code,
        "baseline_kb": baseline,
        "peak_kb": high_water_kb(),
        "seconds": round(time.monotonic() - started, 3),
    }
    print(json.dumps(report), file=sys.__stdout__)


if __name__ == "__main__":
    main(sys.argv[1:])
