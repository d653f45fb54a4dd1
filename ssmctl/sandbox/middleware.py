"""The credential gate: a WSGI middleware in front of moto that checks every request's
access key as AWS does, and answers in the right protocol when it refuses one.

It identifies the caller from the access key in the SigV4 `Authorization` header (or a
presigned URL's `X-Amz-Credential`) and the session token; it does not verify signatures.
Accepted requests carry the caller and a request id into moto's handlers.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from ssmctl.sandbox import identity, wire_errors
from ssmctl.sandbox.request import CALLER_KEY, REQUEST_ID_KEY
from ssmctl.sandbox.runtime import Runtime

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
_REJECTIONS = {
    identity.Rejection.MISSING: wire_errors.MISSING_CREDENTIALS,
    identity.Rejection.INVALID: wire_errors.INVALID_CREDENTIALS,
    identity.Rejection.EXPIRED: wire_errors.EXPIRED_CREDENTIALS,
}

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def _credential(environ: dict[str, Any]) -> tuple[str, str] | None:
    """(access key id, signing service) of a SigV4 request, header or presigned URL."""
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match is None:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        scope = (query.get("X-Amz-Credential") or [""])[0]
        match = _CREDENTIAL.search(f"Credential={scope}")
    return (match.group(1), match.group(3).lower()) if match else None


def _protocol(environ: dict[str, Any], service: str) -> str:
    if service == "s3":
        return wire_errors.S3
    if service == "ec2":
        return wire_errors.EC2
    if environ.get("HTTP_X_AMZ_TARGET"):
        return wire_errors.JSON
    content_type = environ.get("CONTENT_TYPE", "")
    if content_type.startswith("application/x-www-form-urlencoded") or "Action=" in environ.get(
        "QUERY_STRING", ""
    ):
        return wire_errors.QUERY
    return wire_errors.REST_JSON


def _session_token(environ: dict[str, Any]) -> str | None:
    token = environ.get("HTTP_X_AMZ_SECURITY_TOKEN")
    if token:
        return str(token)
    values = parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Security-Token")
    return values[0] if values else None


class CredentialGate:
    """Wraps moto's WSGI app; see the module docstring."""

    def __init__(self, app: WsgiApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request_id = str(uuid.uuid4())
        environ[REQUEST_ID_KEY] = request_id
        if environ.get("PATH_INFO", "").startswith("/moto-api"):
            # Resetting moto behind the sandbox's back would desynchronise its state.
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"Not Found: the sandbox does not expose moto's API\n"]
        credential = _credential(environ)
        service = credential[1] if credential else ""
        if credential is None:
            outcome: identity.Caller | identity.Rejection = identity.Rejection.MISSING
        else:
            outcome = identity.resolve(
                self.runtime.account_id,
                credential[0],
                _session_token(environ),
                self.runtime.expired_users,
                dt.datetime.now(dt.timezone.utc),
            )
        if isinstance(outcome, identity.Rejection):
            code, message, status = _REJECTIONS[outcome][_protocol(environ, service)]
            error = wire_errors.render(
                _protocol(environ, service), code, message, status, request_id
            )
            start_response(f"{error.status} {_REASONS.get(error.status, 'Error')}", error.headers)
            return [error.body]
        environ[CALLER_KEY] = outcome

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            # moto's dispatcher leaks its internal "status" key as a header; AWS sends none.
            kept = [(k, v) for k, v in headers if k.lower() not in ("x-amzn-requestid", "status")]
            kept.append(("x-amzn-RequestId", request_id))
            return (
                start_response(status, kept, exc_info) if exc_info else start_response(status, kept)
            )

        return self.app(environ, start)


_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}
