"""Pacing and retrying rate-limited calls (CloudTrail LookupEvents: 2 per second).

LookupEvents allows 2 requests per second per account per region, and a throttled page
must be asked for again, never skipped. So every call goes through a `Pacer` shared by
everything in the process that queries that account and region (`shared_pacer`), and
`call_paced` retries a throttled or failed call, with the same arguments, until it
succeeds or the `RetryPolicy` is spent; then it raises `AuditIncomplete`, never returns
less than was asked for.

botocore's own retries bypass the pacer, so clients used here are made with
`max_attempts=1`.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from ssmctl.errors import AuditIncomplete

T = TypeVar("T")

LOOKUP_RATE = 2.0
"""LookupEvents' limit: requests per second per account per region."""

# Error codes that mean "slow down" or "try again": retried, never reported as a gap.
_RETRY_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
_THROTTLE_CODES = frozenset(c for c in _RETRY_CODES if "Thrott" in c or "Limit" in c)


class Pacer:
    """A blocking token bucket: at most `rate` calls per second, no bursts (thread-safe).

    Each `acquire()` reserves the next free slot, so threads sharing a pacer take turns.
    A throttle (someone else shares the account's limit) halves the pace; each success
    wins a tenth of it back, up to `rate`.
    """

    def __init__(
        self,
        rate: float = LOOKUP_RATE,
        *,
        floor: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.max_rate = rate
        self.rate = rate
        self.floor = min(floor, rate)
        self._clock = clock
        self._sleep = sleep
        self._next = clock()
        self._lock = threading.Lock()
        self.calls = 0
        self.throttles = 0

    def acquire(self) -> float:
        """Wait for this caller's slot; returns how long it waited."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + 1.0 / self.rate
            self.calls += 1
        wait = start - now
        if wait > 0:
            self._sleep(wait)
        return wait

    def throttled(self) -> None:
        with self._lock:
            self.throttles += 1
            self.rate = max(self.floor, self.rate / 2)

    def succeeded(self) -> None:
        with self._lock:
            self.rate = min(self.max_rate, self.rate + self.max_rate / 10)


class _Pacers:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_key: dict[tuple[str, str, str], Pacer] = {}


_pacers = _Pacers()


def shared_pacer(service: str, account: str, region: str, rate: float = LOOKUP_RATE) -> Pacer:
    """The process's one pacer for `service` in this account and region."""
    key = (service, account, region)
    with _pacers.lock:
        pacer = _pacers.by_key.get(key)
        if pacer is None:
            pacer = _pacers.by_key[key] = Pacer(rate)
        return pacer


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """How long a failing page is retried: `attempts` in all, backing off exponentially
    from `base` seconds up to `cap`, with jitter (half fixed, half random)."""

    attempts: int = 12
    base: float = 0.5
    cap: float = 20.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be at least 1")

    def delay(self, retry: int, rand: Callable[[], float] = random.random) -> float:
        ceiling = float(min(self.cap, self.base * 2**retry))
        return ceiling / 2 + rand() * ceiling / 2


def retryable(exc: BaseException) -> bool:
    """Whether a failed call may succeed if asked again: throttles, 5xx, lost connections."""
    import botocore.exceptions as bce

    if isinstance(exc, bce.ClientError):
        response = exc.response
        code = str(response.get("Error", {}).get("Code", ""))
        status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        return code in _RETRY_CODES or status >= 500 or status == 429
    return isinstance(
        exc,
        (
            bce.EndpointConnectionError,
            bce.ConnectionClosedError,
            bce.ReadTimeoutError,
            bce.ConnectTimeoutError,
        ),
    )


def _throttle(exc: BaseException) -> bool:
    from ssmctl.aws import error_code

    return error_code(exc) in _THROTTLE_CODES


def call_paced(
    call: Callable[[], T],
    *,
    pacer: Pacer | None,
    policy: RetryPolicy,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[BaseException], None] | None = None,
) -> T:
    """`call()` in its turn, retried on throttles and transient failures.

    Raises `AuditIncomplete` (naming `what` and the last error) once `policy` is spent,
    and any other error as it is: the caller never gets a partial answer silently.
    """
    started = time.monotonic()
    for attempt in range(policy.attempts):
        if pacer is not None:
            pacer.acquire()
        try:
            result = call()
        except Exception as exc:
            if not retryable(exc):
                raise
            if pacer is not None and _throttle(exc):
                pacer.throttled()
            if on_retry is not None:
                on_retry(exc)
            if attempt + 1 == policy.attempts:
                raise _incomplete(exc, what, policy.attempts, time.monotonic() - started) from exc
            sleep(policy.delay(attempt))
            continue
        if pacer is not None:
            pacer.succeeded()
        return result
    raise AssertionError("unreachable")


def _incomplete(exc: BaseException, what: str, attempts: int, elapsed: float) -> AuditIncomplete:
    from ssmctl.aws import error_code, translate

    error = translate(exc)
    detail = error.message if error is not None else f"{type(exc).__name__}: {exc}"
    return AuditIncomplete(
        f"{what}: still failing after {attempts} attempts over {elapsed:.0f} s ({detail}); "
        "stopped here rather than skip events",
        error_code(exc),
    )
