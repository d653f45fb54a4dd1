"""CloudTrail LookupEvents over the sandbox's event history, with AWS's validation and
its 2-requests-per-second-per-account-per-region throttle."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ssmctl.sandbox.aws_errors import ApiError
from ssmctl.sandbox.paging import BadToken, keyset_page
from ssmctl.sandbox.request import call_context, json_response
from ssmctl.sandbox.runtime import current
from ssmctl.sandbox.trail import LOOKUP_ATTRIBUTES


def _time(value: object, name: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return dt.datetime.fromtimestamp(value, dt.timezone.utc)
        if isinstance(value, str):
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    except (ValueError, OverflowError, OSError):
        pass
    raise ApiError("InvalidTimeRangeException", f"{name} is not a valid timestamp.")


def _attribute(params: dict[str, Any]) -> tuple[str, str] | None:
    attributes = params.get("LookupAttributes") or []
    if not isinstance(attributes, list):
        raise ApiError("InvalidLookupAttributesException", "LookupAttributes must be a list.")
    if len(attributes) > 1:
        raise ApiError(
            "InvalidLookupAttributesException", "You cannot specify more than one lookup attribute."
        )
    if not attributes:
        return None
    key, value = attributes[0].get("AttributeKey"), attributes[0].get("AttributeValue")
    if key not in LOOKUP_ATTRIBUTES:
        raise ApiError(
            "InvalidLookupAttributesException",
            f"{key!r} is not a lookup attribute; use one of {', '.join(LOOKUP_ATTRIBUTES)}.",
        )
    if not isinstance(value, str) or not 1 <= len(value) <= 2000:
        raise ApiError(
            "InvalidLookupAttributesException", "AttributeValue must be 1 to 2000 characters long."
        )
    return key, value


def lookup_events_handler(self: Any) -> tuple[str, dict[str, Any]]:
    ctx = call_context(self)
    runtime = current()
    if not runtime.lookup_allowed(ctx.account_id, ctx.region):
        raise ApiError("ThrottlingException", "Rate exceeded")
    params = ctx.params
    attribute = _attribute(params)
    limit = params.get("MaxResults", 50)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 50:
        raise ApiError("InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
    start, end = (
        _time(params.get("StartTime"), "StartTime"),
        _time(params.get("EndTime"), "EndTime"),
    )
    if start and end and start > end:
        raise ApiError("InvalidTimeRangeException", "StartTime must not be after EndTime.")
    category = params.get("EventCategory")
    if category not in (None, "insight"):
        raise ApiError("InvalidEventCategoryException", "EventCategory must be insight.")
    query = {
        "attribute": attribute,
        "start": start.isoformat() if start else None,
        "end": end.isoformat() if end else None,
        "category": category,
    }
    after = None
    if params.get("NextToken"):
        try:
            after = runtime.codec.decode(str(params["NextToken"]), "LookupEvents", query)
        except BadToken:
            raise ApiError(
                "InvalidNextTokenException", "A token that is not valid was provided."
            ) from None
    now = dt.datetime.now(dt.timezone.utc)
    # The sandbox produces no Insights events.
    events = (
        []
        if category
        else runtime.trail.lookup(
            account_id=ctx.account_id,
            region=ctx.region,
            attribute=attribute,
            start=start,
            end=end,
            now=now,
        )
    )
    events.sort(key=lambda e: (-e.event_time.timestamp(), e.event_id))
    page, position = keyset_page(
        events, lambda e: [-e.event_time.timestamp(), e.event_id], after, limit
    )
    body: dict[str, Any] = {"Events": [e.to_api() for e in page]}
    if position is not None:
        body["NextToken"] = runtime.codec.encode("LookupEvents", query, position)
    return json_response(body)
