"""Durations (`90m`, `1h30m`, `7d`) and points in time (`2h` ago, ISO 8601)."""

from __future__ import annotations

import datetime as dt
import re

from ssmctl.errors import UsageError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+)([smhdw])")


def parse_duration(text: str) -> dt.timedelta:
    """Parse `30s`, `90m`, `1h30m`, `2d`, `1w` (units s, m, h, d, w; combinable)."""
    spec = text.strip().lower()
    if not spec:
        raise UsageError("empty duration: expected something like 30m, 2h or 1d12h")
    pos = 0
    seconds = 0
    for match in _DURATION.finditer(spec):
        if match.start() != pos:
            break
        seconds += int(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(spec):
        raise UsageError(
            f"bad duration {text!r}: expected a number with a unit s, m, h, d or w "
            "(for example 30m, 2h, 1d12h)"
        )
    return dt.timedelta(seconds=seconds)


def parse_time(text: str, now: dt.datetime | None = None) -> dt.datetime:
    """Parse a point in time: a duration meaning that long ago, `now`, or ISO 8601.

    ISO times without an offset are taken as UTC (as CloudTrail and DescribeSessions
    report them). The result is always timezone-aware, in UTC.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    spec = text.strip()
    if spec.lower() == "now":
        return now
    if spec and spec[0].isdigit() and spec[-1].lower() in _UNITS and _DURATION.match(spec.lower()):
        return now - parse_duration(spec)
    iso = spec[:-1] + "+00:00" if spec.endswith(("Z", "z")) else spec
    try:
        value = dt.datetime.fromisoformat(iso)
    except ValueError:
        raise UsageError(
            f"bad time {text!r}: expected a duration ago (2h, 7d), 'now', or ISO 8601 "
            "(2026-01-31, 2026-01-31T08:00:00Z)"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def format_duration(delta: dt.timedelta) -> str:
    """`1d2h3m`, `4m5s`, `0s`: the largest two units, for tables."""
    total = int(delta.total_seconds())
    if total <= 0:
        return "0s"
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
        if len(parts) == 2:
            break
    return "".join(parts)


def iso_utc(value: dt.datetime | None) -> str | None:
    """`2026-12-03T15:24:29Z`: how every output format writes a time (naive means UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
