"""Table and text columns of the audit listings (machine formats carry every field)."""

from __future__ import annotations

from typing import Any

from ssmctl.output import Column
from ssmctl.timespec import format_duration

_ENDING_STYLES = {
    "terminated": "yellow",
    "failed": "red",
    "idle timeout": "dim",
    "maximum duration": "yellow",
}


def _when(value: Any) -> str:
    return str(value).replace("T", " ").replace("Z", "") if value else "-"


def _last_part(value: Any) -> str:
    return str(value).rsplit("/", 1)[-1] if value else "-"


def _duration(value: Any) -> str:
    import datetime as dt

    return format_duration(dt.timedelta(seconds=int(value))) if value is not None else "-"


def _logged(value: Any) -> str:
    return {True: "yes", False: "no"}.get(value, "-")


def _ended(value: Any) -> str:
    return str(value) if value else "running"


EVENT_COLUMNS = (
    Column("time", "TIME (UTC)", display=_when, no_wrap=True),
    Column("event", "EVENT"),
    Column("user_name", "USER"),
    Column("source_ip", "SOURCE IP"),
    Column("target", "TARGET", no_wrap=True),
    Column("session_id", "SESSION", no_wrap=True),
    Column("document", "DOCUMENT"),
    Column("reason", "REASON"),
    Column("region", "REGION"),
    Column("error_code", "ERROR", style=lambda v: "red" if v else None),
)

SESSION_COLUMNS = (
    Column("session_id", "SESSION", no_wrap=True),
    Column("user_name", "USER"),
    Column("target", "TARGET", no_wrap=True),
    Column("target_name", "NAME"),
    Column("start", "STARTED (UTC)", display=_when),
    Column("duration_seconds", "DURATION", display=_duration),
    Column("status", "STATUS"),
    Column("ended_by", "ENDED BY", display=_ended, style=lambda v: _ENDING_STYLES.get(str(v))),
    Column("terminated_by", "TERMINATED BY", display=_last_part),
    Column("resumes", "RESUMES"),
    Column("document", "DOCUMENT"),
    Column("logged", "LOGGED", display=_logged),
    Column("source_ip", "SOURCE IP"),
    Column("region", "REGION"),
)

TRANSCRIPT_COLUMNS = (
    Column("time", "TIME (UTC)", display=_when),
    Column("text", "TEXT"),
)
