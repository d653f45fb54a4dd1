"""AWS error responses as each wire protocol shapes them (status, headers, body).

Used by the credential gate, which answers before moto sees a request, and by the
sandbox's own handlers. botocore reads the code from these exact places.
"""

from __future__ import annotations

import dataclasses
import json
from xml.sax.saxutils import escape

JSON = "json"  # awsJson1.x: ssm, cloudtrail, logs, ... (X-Amz-Target)
REST_JSON = "rest-json"  # resource-groups, ...
QUERY = "query"  # sts, iam, ...
EC2 = "ec2"
S3 = "s3"


@dataclasses.dataclass(frozen=True)
class WireError:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def render(protocol: str, code: str, message: str, status: int, request_id: str) -> WireError:
    """The error `code`/`message` in `protocol`'s format."""
    rid = [("x-amzn-RequestId", request_id)]
    if protocol in (JSON, REST_JSON):
        body = json.dumps({"__type": code, "message": message}).encode()
        content_type = "application/x-amz-json-1.1" if protocol == JSON else "application/json"
        headers = [("Content-Type", content_type), ("x-amzn-ErrorType", code), *rid]
        return WireError(status, headers, body)
    if protocol == EC2:
        text = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"</Error></Errors><RequestID>{escape(request_id)}</RequestID></Response>"
        )
        return WireError(status, [("Content-Type", "text/xml;charset=UTF-8"), *rid], text.encode())
    if protocol == S3:
        text = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error>'
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"<RequestId>{escape(request_id)}</RequestId></Error>"
        )
        return WireError(
            status,
            [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)],
            text.encode(),
        )
    text = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
        f"<Type>Sender</Type><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"</Error><RequestId>{escape(request_id)}</RequestId></ErrorResponse>"
    )
    return WireError(status, [("Content-Type", "text/xml"), *rid], text.encode())


# (code, message, status) per protocol for the two credential failures the gate reports.
_INVALID = "The security token included in the request is invalid."
_EXPIRED = "The security token included in the request is expired"
INVALID_CREDENTIALS = {
    JSON: ("UnrecognizedClientException", _INVALID, 400),
    REST_JSON: ("UnrecognizedClientException", _INVALID, 403),
    QUERY: ("InvalidClientTokenId", _INVALID, 403),
    EC2: ("AuthFailure", "AWS was not able to validate the provided access credentials", 401),
    S3: (
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
        403,
    ),
}
EXPIRED_CREDENTIALS = {
    JSON: ("ExpiredTokenException", _EXPIRED, 400),
    REST_JSON: ("ExpiredTokenException", _EXPIRED, 403),
    QUERY: ("ExpiredToken", _EXPIRED, 403),
    # EC2 reports expired credentials as an expired request.
    EC2: ("RequestExpired", "Request has expired.", 400),
    S3: ("ExpiredToken", "The provided token has expired.", 400),
}
MISSING_CREDENTIALS = {
    JSON: ("MissingAuthenticationTokenException", "Missing Authentication Token", 400),
    REST_JSON: ("MissingAuthenticationTokenException", "Missing Authentication Token", 403),
    QUERY: ("MissingAuthenticationToken", "Request is missing Authentication Token", 403),
    EC2: ("MissingAuthenticationToken", "Request is missing Authentication Token", 401),
    S3: ("AccessDenied", "Access Denied", 403),
}
