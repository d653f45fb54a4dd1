"""Running the doctor's checks: each as soon as the checks it needs are done, all of
them concurrently otherwise, each with a timeout.

Checks run on daemon threads: one that hangs past its timeout is reported as FAIL and
left behind (it cannot hold up the answer, nor ssmctl's exit).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from ssmctl.doctor.checks import CHECKS, Check
from ssmctl.doctor.model import FAIL, SKIP, CheckResult, DoctorContext


def run_doctor(
    context: DoctorContext, *, timeout: float = 10.0, checks: Sequence[Check] = CHECKS
) -> list[CheckResult]:
    """One result per applicable check, in the order of `checks`."""
    chosen = [c for c in checks if c.applies(context)]
    names = {c.name for c in chosen}
    done: dict[str, CheckResult] = {}
    finished = threading.Condition()
    started: dict[str, tuple[threading.Thread, float]] = {}
    slots: dict[str, list[CheckResult]] = {}

    def work(check: Check, slot: list[CheckResult]) -> None:
        began = time.monotonic()
        result = check.run(context)
        slot.append(
            CheckResult(check.name, result.verdict, result.reason, time.monotonic() - began)
        )
        with finished:
            finished.notify_all()

    with finished:
        while len(done) < len(chosen):
            before = (len(done), len(started))
            for check in chosen:
                if check.name in done or check.name in started:
                    continue
                needs = [n for n in check.needs if n in names]
                if any(n not in done for n in needs):
                    continue
                blocked = [n for n in needs if done[n].verdict in (FAIL, SKIP)]
                if blocked:
                    done[check.name] = CheckResult(check.name, SKIP, f"needs {blocked[0]}")
                    continue
                slot: list[CheckResult] = []
                thread = threading.Thread(
                    target=work, args=(check, slot), name=f"doctor-{check.name}", daemon=True
                )
                slots[check.name] = slot
                started[check.name] = (thread, time.monotonic())
                thread.start()
            now = time.monotonic()
            for name, (_, began) in list(started.items()):
                if slots[name]:
                    done[name] = slots[name][0]
                elif now - began >= timeout:
                    done[name] = CheckResult(
                        name, FAIL, f"no answer within {timeout:g} s", now - began
                    )
                else:
                    continue
                del started[name]
            if not started and (len(done), len(started)) == before:
                # Nothing ran and nothing could start: only a dependency cycle does this.
                for check in chosen:
                    done.setdefault(check.name, CheckResult(check.name, SKIP, "not reachable"))
            if len(done) < len(chosen) and started:
                deadline = min(began for _, began in started.values()) + timeout
                finished.wait(max(0.01, deadline - time.monotonic()))
    return [done[c.name] for c in chosen]
