"""DescribeSessions entries to join with events: active sessions and the last 30 days."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from ssmctl.models import SessionInfo

MARGIN = dt.timedelta(days=1)
"""Sessions started this long before the range are asked for too: their Resume or
Terminate events may fall in it."""


def session_history(
    ssm_for: Callable[[str], Any],
    regions: Sequence[str],
    since: dt.datetime,
    until: dt.datetime,
) -> dict[tuple[str, str], SessionInfo]:
    """(region, session id) -> entry, for sessions started in [since - 1 day, until]
    (DescribeSessions keeps ended sessions for 30 days)."""
    from ssmctl.sessions import SessionQuery, list_sessions

    out: dict[tuple[str, str], SessionInfo] = {}
    # The filters take whole seconds: round the end up, or the last second is left out.
    before = until.replace(microsecond=0) + dt.timedelta(seconds=1)
    for region in regions:
        ssm = ssm_for(region)
        for history in (True, False):
            query = SessionQuery(history=history, since=since - MARGIN, until=before)
            for info in list_sessions(ssm, region, query):
                out[(region, info.session_id)] = info
    return out


def describe_session(ssm: Any, region: str, session_id: str) -> SessionInfo | None:
    """One session's DescribeSessions entry (active first, then the 30-day history)."""
    from ssmctl.sessions import session_from_api

    for state in ("Active", "History"):
        response = ssm.describe_sessions(
            State=state, Filters=[{"key": "SessionId", "value": session_id}]
        )
        for row in response.get("Sessions", []):
            if row.get("SessionId") == session_id:
                return session_from_api(row, region)
    return None
