from __future__ import annotations

import datetime as dt

import pytest

from ssmctl.errors import UsageError
from ssmctl.timespec import format_duration, parse_duration, parse_time

NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("90m", 5400), ("1h30m", 5400), ("2d", 172800), ("1w", 604800), ("1D2H", 93600)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "5", "h", "1x", "1h 30m", "-1h", "1.5h", "m1"])
def test_bad_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="duration"):
        parse_duration(text)


def test_times() -> None:
    assert parse_time("2h", NOW) == NOW - dt.timedelta(hours=2)
    assert parse_time("now", NOW) == NOW
    assert parse_time("2026-01-31", NOW) == dt.datetime(2026, 1, 31, tzinfo=dt.timezone.utc)
    assert parse_time("2026-01-31T08:00:00Z", NOW).hour == 8
    assert parse_time("2026-01-31T08:00:00+02:00", NOW).hour == 6


def test_bad_time_names_the_input() -> None:
    with pytest.raises(UsageError, match="yesterday"):
        parse_time("yesterday", NOW)


def test_format_duration() -> None:
    assert format_duration(dt.timedelta(seconds=0)) == "0s"
    assert format_duration(dt.timedelta(seconds=3725)) == "1h2m"
    assert format_duration(dt.timedelta(days=3, hours=4, minutes=5)) == "3d4h"
