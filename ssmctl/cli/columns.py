"""Table and text columns of each listing (machine formats carry every field)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ssmctl.output import Column
from ssmctl.timespec import format_duration

_PING_STYLES = {"Online": "green", "ConnectionLost": "yellow", "Inactive": "red"}
_STATUS_STYLES = {
    "Connected": "green",
    "Connecting": "cyan",
    "Disconnected": "yellow",
    "Terminating": "yellow",
    "Terminated": "dim",
    "Failed": "red",
}


def _ping(value: Any) -> str:
    return str(value) if value else "not in SSM"


def _ping_style(value: Any) -> str | None:
    return _PING_STYLES.get(str(value), "dim")


def _when(value: Any) -> str:
    if not value:
        return "-"
    return str(value).replace("T", " ").replace("Z", "")[:16]


INSTANCE_COLUMNS = (
    Column("instance_id", "INSTANCE", no_wrap=True),
    Column("name", "NAME"),
    Column("state", "STATE"),
    Column("ping_status", "PING", display=_ping, style=_ping_style),
    Column("platform", "PLATFORM"),
    Column("agent_version", "AGENT"),
    Column("private_ip", "PRIVATE IP"),
    Column("region", "REGION"),
    Column("account_id", "ACCOUNT"),
)


def session_columns(now: dt.datetime) -> tuple[Column, ...]:
    def age(value: Any) -> str:
        if not value:
            return "-"
        start = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return format_duration(now - start)

    return (
        Column("session_id", "SESSION", no_wrap=True),
        Column("target", "TARGET"),
        Column("status", "STATUS", style=lambda v: _STATUS_STYLES.get(str(v))),
        Column("owner", "OWNER", display=lambda v: str(v).rsplit("/", 1)[-1] if v else "-"),
        Column("start", "STARTED (UTC)", display=_when),
        Column("start", "AGE", display=age),
        Column("end", "ENDED (UTC)", display=_when),
        Column("document", "DOCUMENT"),
        Column("reason", "REASON"),
        Column("region", "REGION"),
    )


TERMINATE_COLUMNS = (
    Column("session_id", "SESSION", no_wrap=True),
    Column("region", "REGION"),
    Column("target", "TARGET"),
    Column("owner", "OWNER", display=lambda v: str(v).rsplit("/", 1)[-1] if v else "-"),
    Column("result", "RESULT", style=lambda v: "green" if v == "terminated" else "red"),
    Column("detail", "DETAIL"),
)
