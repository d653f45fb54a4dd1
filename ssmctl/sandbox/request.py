"""What a sandbox handler knows about the call it serves, and how it answers.

The credential gate (middleware.py) resolves the caller and a request id before moto
dispatches; handlers read them from the WSGI environ.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from ssmctl.sandbox.identity import Caller

CALLER_KEY = "ssmctl.sandbox.caller"
REQUEST_ID_KEY = "ssmctl.sandbox.request_id"
JSON_CONTENT_TYPE = "application/x-amz-json-1.1"


@dataclasses.dataclass(frozen=True)
class CallContext:
    account_id: str
    region: str
    caller: Caller
    source_ip: str
    user_agent: str
    request_id: str
    params: dict[str, Any]


def call_context(response: Any) -> CallContext:
    """The context of the request a moto response object is handling."""
    from ssmctl.sandbox.aws_errors import ApiError

    environ = response.normalized_request.environ
    caller = environ.get(CALLER_KEY)
    if not isinstance(caller, Caller):
        raise ApiError(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    body = response.body or "{}"
    try:
        params = json.loads(body) if isinstance(body, str) else json.loads(body.decode())
    except ValueError:
        raise ApiError("SerializationException", "The request body is not valid JSON.") from None
    if not isinstance(params, dict):
        raise ApiError("SerializationException", "The request body must be a JSON object.")
    return CallContext(
        account_id=caller.account_id,
        region=str(response.region),
        caller=caller,
        source_ip=str(environ.get("REMOTE_ADDR", "")),
        user_agent=str(environ.get("HTTP_USER_AGENT", "")),
        request_id=str(environ.get(REQUEST_ID_KEY, "")),
        params=params,
    )


def _encode(value: object) -> object:
    if isinstance(value, dt.datetime):
        # JSON protocols carry timestamps as epoch seconds.
        return round(value.timestamp(), 3)
    raise TypeError(f"cannot encode {type(value).__name__}")


def json_response(
    data: dict[str, Any], content_type: str = JSON_CONTENT_TYPE
) -> tuple[str, dict[str, Any]]:
    """A 200 response body and headers, as moto's dispatcher expects them from a handler."""
    return json.dumps(data, default=_encode), {"Content-Type": content_type}


def int_param(
    params: dict[str, Any], name: str, field: str, *, default: int, low: int, high: int
) -> int:
    """An integer request parameter checked against its model range."""
    from ssmctl.sandbox.aws_errors import check_range, validation

    value = params.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise validation(field, value, "Member must be an integer")
    check_range(field, value, low, high)
    return value
