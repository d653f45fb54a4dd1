"""API calls of a run that wait out throttling, on top of botocore's own retries.

A big run polls for minutes; a throttled poll must slow the run down, never end it.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Any

from ssmctl.aws import error_code

THROTTLED = frozenset(
    {"ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded"}
)
RETRIES, CAP = 6, 20.0


def patient_call(sleep: Callable[[float], None], method: Callable[..., Any], **kwargs: Any) -> Any:
    """`method(**kwargs)`, retried up to 6 more times on throttling errors with
    exponential backoff (1 s, 2 s, 4 s, ... up to 20 s, with jitter)."""
    import botocore.exceptions

    attempt = 0
    while True:
        try:
            return method(**kwargs)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) not in THROTTLED or attempt == RETRIES:
                raise
            sleep(min(CAP, 2.0**attempt) * (0.5 + random.random() / 2))  # noqa: S311
            attempt += 1


def timestamp(value: object) -> dt.datetime | None:
    """GetCommandInvocation's date strings (`2024-05-01T10:00:00.123Z`); None if absent."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
