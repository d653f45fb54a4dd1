"""CloudTrail records for the Session Manager calls the sandbox serves, shaped like AWS's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ssmctl.sandbox.request import CallContext
from ssmctl.sandbox.trail import format_event_time, new_event_id

HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"


def api_call_record(
    ctx: CallContext,
    event_name: str,
    *,
    request_parameters: Mapping[str, Any],
    response_elements: Mapping[str, Any] | None,
    now: dt.datetime,
    error: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """One `AwsApiCall` management event; `error` is (code, message) for a failed call."""
    record: dict[str, Any] = {
        "eventVersion": "1.11",
        "userIdentity": ctx.caller.user_identity(),
        "eventTime": format_event_time(now),
        "eventSource": "ssm.amazonaws.com",
        "eventName": event_name,
        "awsRegion": ctx.region,
        "sourceIPAddress": ctx.source_ip,
        "userAgent": ctx.user_agent,
    }
    if error is not None:
        record["errorCode"], record["errorMessage"] = error
    record.update(
        requestParameters=dict(request_parameters),
        responseElements=dict(response_elements)
        if response_elements is not None and error is None
        else None,
        requestID=ctx.request_id,
        eventID=new_event_id(),
        readOnly=False,
        eventType="AwsApiCall",
        managementEvent=True,
        recipientAccountId=ctx.account_id,
        eventCategory="Management",
    )
    return record
