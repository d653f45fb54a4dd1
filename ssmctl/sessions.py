"""Start, list and terminate Session Manager sessions (clients passed in)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ssmctl.errors import UsageError
from ssmctl.models import SessionInfo

ACTIVE_STATUSES = ("Connected", "Connecting", "Disconnected", "Terminating")
HISTORY_STATUSES = ("Terminated", "Failed")
STATUSES = ACTIVE_STATUSES + HISTORY_STATUSES


@dataclasses.dataclass(frozen=True)
class SessionQuery:
    """What `sessions list` asks DescribeSessions for. Server-side where the API allows."""

    history: bool = False
    owner: str | None = None
    targets: tuple[str, ...] = ()
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    status: str | None = None

    def state(self) -> str:
        return "History" if self.history else "Active"


def normalise_status(text: str) -> str:
    """`connected` -> `Connected`; an unknown status is a usage error."""
    for status in STATUSES:
        if status.lower() == text.strip().lower():
            return status
    raise UsageError(f"unknown session status {text!r}; expected one of {', '.join(STATUSES)}")


def build_query(
    *,
    history: bool,
    status: str | None,
    owner: str | None,
    targets: Sequence[str],
    since: dt.datetime | None,
    until: dt.datetime | None,
) -> SessionQuery:
    """Check the combination; a history-only status implies --history."""
    normalised = normalise_status(status) if status else None
    if normalised in HISTORY_STATUSES:
        history = True
    elif normalised and history:
        raise UsageError(f"status {normalised} is never in the history (drop --history)")
    if since and until and since > until:
        raise UsageError("--since is later than --until")
    return SessionQuery(
        history=history,
        owner=owner,
        targets=tuple(targets),
        since=since,
        until=until,
        status=normalised,
    )


def _stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _filters(query: SessionQuery, target: str | None) -> list[dict[str, str]]:
    filters: list[dict[str, str]] = []
    if query.since:
        filters.append({"key": "InvokedAfter", "value": _stamp(query.since)})
    if query.until:
        filters.append({"key": "InvokedBefore", "value": _stamp(query.until)})
    if query.owner:
        filters.append({"key": "Owner", "value": query.owner})
    if query.status:
        filters.append({"key": "Status", "value": query.status})
    if target:
        filters.append({"key": "Target", "value": target})
    return filters


# Up to this many targets are filtered server-side, one query each; more are filtered here.
_SERVER_SIDE_TARGETS = 5


def list_sessions(ssm: Any, region: str, query: SessionQuery) -> Iterator[SessionInfo]:
    """Sessions matching `query` in one region, newest first per query, all pages."""
    if query.targets and len(query.targets) <= _SERVER_SIDE_TARGETS:
        for target in query.targets:
            yield from _describe(ssm, region, query.state(), _filters(query, target))
        return
    wanted = set(query.targets)
    for session in _describe(ssm, region, query.state(), _filters(query, None)):
        if not wanted or session.target in wanted:
            yield session


def _describe(
    ssm: Any, region: str, state: str, filters: list[dict[str, str]]
) -> Iterator[SessionInfo]:
    kwargs: dict[str, Any] = {"State": state, "PaginationConfig": {"PageSize": 200}}
    if filters:
        kwargs["Filters"] = filters
    for page in ssm.get_paginator("describe_sessions").paginate(**kwargs):
        for row in page.get("Sessions", []):
            yield session_from_api(row, region)


def session_from_api(row: Mapping[str, Any], region: str) -> SessionInfo:
    output = row.get("OutputUrl") or {}
    return SessionInfo(
        session_id=str(row.get("SessionId", "")),
        region=region,
        target=str(row.get("Target", "")),
        status=str(row.get("Status", "")),
        owner=str(row.get("Owner", "")),
        start=_aware(row.get("StartDate")),
        end=_aware(row.get("EndDate")),
        document=row.get("DocumentName"),
        reason=row.get("Reason"),
        details=row.get("Details"),
        max_session_duration=row.get("MaxSessionDuration"),
        access_type=row.get("AccessType"),
        output_s3=output.get("S3OutputUrl") or None,
        output_cloudwatch=output.get("CloudWatchOutputUrl") or None,
    )


def _aware(value: Any) -> dt.datetime | None:
    if not isinstance(value, dt.datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def start_request(
    target: str,
    *,
    document: str | None = None,
    parameters: Mapping[str, Sequence[str]] | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """The StartSession request; it is also what the plugin gets as its request JSON."""
    if reason is not None and not 1 <= len(reason) <= 256:
        raise UsageError("--reason must be 1 to 256 characters (the AWS limit)")
    request: dict[str, Any] = {"Target": target}
    if document:
        request["DocumentName"] = document
    if parameters:
        request["Parameters"] = {k: list(v) for k, v in parameters.items()}
    if reason:
        request["Reason"] = reason
    return request


def start_session(ssm: Any, request: Mapping[str, Any]) -> dict[str, str]:
    """Call StartSession; returns {SessionId, TokenValue, StreamUrl} (keep the token secret)."""
    response = ssm.start_session(**request)
    return {k: str(response[k]) for k in ("SessionId", "TokenValue", "StreamUrl")}


def terminate_session(ssm: Any, session_id: str) -> None:
    ssm.terminate_session(SessionId=session_id)


@dataclasses.dataclass(frozen=True)
class TerminateResult:
    session: SessionInfo
    ok: bool
    detail: str

    def to_record(self) -> dict[str, Any]:
        return {
            "session_id": self.session.session_id,
            "region": self.session.region,
            "target": self.session.target,
            "owner": self.session.owner,
            "result": "terminated" if self.ok else "failed",
            "detail": self.detail,
        }


def terminate_many(ssm_for: Any, sessions: Sequence[SessionInfo]) -> list[TerminateResult]:
    """TerminateSession for each session (in its own region); one result each, in order.

    `ssm_for(region)` returns the ssm client of a region. A failure is recorded, never
    raised, so one refusal does not leave the others running.
    """
    from ssmctl.aws import translate

    results = []
    for session in sessions:
        try:
            terminate_session(ssm_for(session.region), session.session_id)
        except Exception as exc:
            error = translate(exc)
            if error is None:
                raise
            results.append(TerminateResult(session, False, error.message))
        else:
            results.append(TerminateResult(session, True, ""))
    return results
