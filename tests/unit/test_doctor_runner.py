"""The doctor's runner: order, concurrency, dependencies, timeouts, exceptions."""

from __future__ import annotations

import threading
import time
from typing import Any

from ssmctl.doctor import FAIL, OK, SKIP, WARN, DoctorContext, run_doctor
from ssmctl.doctor.checks import Check
from ssmctl.errors import CredentialsError
from ssmctl.targets import parse_target


def context(target: bool = False) -> DoctorContext:
    aws: Any = object()
    return DoctorContext(aws=aws, env={}, target=parse_target("web-1") if target else None)


def sleeper(seconds: float, verdict: str = OK) -> Any:
    def probe(_: DoctorContext) -> tuple[str, str]:
        time.sleep(seconds)
        return verdict, f"slept {seconds}"

    return probe


def test_independent_checks_run_at_once_and_keep_their_order() -> None:
    checks = (Check("b", sleeper(0.4)), Check("a", sleeper(0.4)), Check("c", sleeper(0.4)))
    began = time.monotonic()
    results = run_doctor(context(), checks=checks)
    assert time.monotonic() - began < 1.0
    assert [r.name for r in results] == ["b", "a", "c"]
    assert all(r.verdict == OK and r.seconds >= 0.35 for r in results)


def test_dependents_wait_for_and_skip_after_failures() -> None:
    order: list[str] = []
    lock = threading.Lock()

    def record(name: str, verdict: str) -> Any:
        def probe(_: DoctorContext) -> tuple[str, str]:
            with lock:
                order.append(name)
            return verdict, name

        return probe

    checks = (
        Check("after", record("after", OK), needs=("first",)),
        Check("first", record("first", WARN)),
        Check("broken", record("broken", FAIL)),
        Check("skipped", record("skipped", OK), needs=("broken",)),
        Check("skipped-too", record("skipped-too", OK), needs=("skipped",)),
    )
    results = {r.name: r for r in run_doctor(context(), checks=checks)}
    assert order.index("first") < order.index("after")  # a WARN does not block
    assert results["after"].verdict == OK
    assert (results["skipped"].verdict, results["skipped"].reason) == (SKIP, "needs broken")
    assert results["skipped-too"].verdict == SKIP
    assert "skipped" not in order


def test_a_slow_check_times_out_and_does_not_hold_up_the_rest() -> None:
    checks = (Check("slow", sleeper(5)), Check("quick", sleeper(0)))
    began = time.monotonic()
    results = run_doctor(context(), checks=checks, timeout=0.3)
    assert time.monotonic() - began < 2
    assert (results[0].verdict, results[0].reason) == (FAIL, "no answer within 0.3 s")
    assert results[1].verdict == OK


def test_exceptions_become_one_line_failures() -> None:
    def expired(_: DoctorContext) -> tuple[str, str]:
        raise CredentialsError("the token expired; refresh it")

    def bug(_: DoctorContext) -> tuple[str, str]:
        raise KeyError("Arn")

    results = run_doctor(context(), checks=(Check("creds", expired), Check("bug", bug)))
    assert [(r.verdict, r.reason) for r in results] == [
        (FAIL, "the token expired; refresh it"),
        (FAIL, "KeyError: 'Arn'"),
    ]


def test_target_checks_only_with_a_target() -> None:
    checks = (Check("always", sleeper(0)), Check("target", sleeper(0), with_target=True))
    assert [r.name for r in run_doctor(context(), checks=checks)] == ["always"]
    assert [r.name for r in run_doctor(context(True), checks=checks)] == ["always", "target"]
