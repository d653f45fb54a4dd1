"""Pacing and retrying rate-limited calls: nothing lost, a clear error at the end."""

from __future__ import annotations

import threading
import time
from typing import Any

import botocore.exceptions
import pytest

from ssmctl.audit.pacing import Pacer, RetryPolicy, call_paced, retryable, shared_pacer
from ssmctl.errors import AuditIncomplete


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _error(code: str, status: int = 400) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {
            "Error": {"Code": code, "Message": "Rate exceeded"},
            "ResponseMetadata": {"HTTPStatusCode": status},  # type: ignore[typeddict-item]
        },
        "LookupEvents",
    )


def test_pacer_spaces_calls_at_its_rate() -> None:
    clock = FakeClock()
    pacer = Pacer(2.0, clock=clock, sleep=clock.sleep)
    waits = [pacer.acquire() for _ in range(5)]
    assert waits == [0.0, 0.5, 0.5, 0.5, 0.5]
    clock.now += 10  # idle: no burst is saved up beyond one call
    assert pacer.acquire() == 0.0
    assert pacer.acquire() == 0.5


def test_a_throttle_halves_the_pace_and_successes_win_it_back() -> None:
    clock = FakeClock()
    pacer = Pacer(2.0, clock=clock, sleep=clock.sleep)
    pacer.throttled()
    assert pacer.rate == 1.0
    pacer.throttled()
    pacer.throttled()
    pacer.throttled()
    assert pacer.rate == 0.25  # the floor
    for _ in range(30):
        pacer.succeeded()
    assert pacer.rate == 2.0


def test_threads_sharing_a_pacer_take_turns() -> None:
    pacer = Pacer(40.0)
    stamps: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(5):
            pacer.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stamps.sort()
    assert len(stamps) == 20
    assert stamps[-1] - stamps[0] >= 19 / 40 * 0.95


def test_one_pacer_per_service_account_and_region() -> None:
    a = shared_pacer("cloudtrail", "111122223333", "eu-west-1")
    assert shared_pacer("cloudtrail", "111122223333", "eu-west-1") is a
    assert shared_pacer("cloudtrail", "111122223333", "us-east-1") is not a
    assert shared_pacer("cloudtrail", "444455556666", "eu-west-1") is not a


def test_a_throttled_call_is_asked_again_until_it_succeeds() -> None:
    clock = FakeClock()
    pacer = Pacer(2.0, clock=clock, sleep=clock.sleep)
    outcomes: list[Any] = [_error("ThrottlingException"), _error("InternalFailure", 500), {"ok": 1}]
    calls: list[int] = []

    def call() -> Any:
        calls.append(1)
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    result = call_paced(
        call, pacer=pacer, policy=RetryPolicy(attempts=5), what="page 1", sleep=clock.sleep
    )
    assert result == {"ok": 1}
    assert len(calls) == 3
    assert pacer.throttles == 1 and pacer.calls == 3


def test_a_call_that_keeps_failing_stops_with_a_clear_error() -> None:
    clock = FakeClock()

    def call() -> Any:
        raise _error("ThrottlingException")

    with pytest.raises(AuditIncomplete) as info:
        call_paced(
            call,
            pacer=None,
            policy=RetryPolicy(attempts=4, base=1, cap=4),
            what="CloudTrail LookupEvents us-east-1 page 7",
            sleep=clock.sleep,
        )
    message = info.value.message
    assert "page 7" in message and "4 attempts" in message and "ThrottlingException" in message
    assert "rather than skip events" in message
    assert len(clock.sleeps) == 3
    # Exponential back-off with jitter: between half and all of 1, 2, 4 seconds.
    for sleep, ceiling in zip(clock.sleeps, (1, 2, 4), strict=True):
        assert ceiling / 2 <= sleep <= ceiling


def test_other_errors_are_not_retried() -> None:
    calls: list[int] = []

    def call() -> Any:
        calls.append(1)
        raise _error("AccessDeniedException")

    with pytest.raises(botocore.exceptions.ClientError):
        call_paced(call, pacer=None, policy=RetryPolicy(), what="x", sleep=lambda _: None)
    assert calls == [1]
    assert retryable(_error("SlowDown", 503))
    assert retryable(botocore.exceptions.EndpointConnectionError(endpoint_url="http://x"))
    assert not retryable(ValueError("no"))
    with pytest.raises(ValueError, match="at least 1"):
        RetryPolicy(attempts=0)
