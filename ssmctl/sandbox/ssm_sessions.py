"""Session Manager's session APIs: StartSession, DescribeSessions, TerminateSession,
ResumeSession. Start/Resume/Terminate each leave a CloudTrail record, failed or not.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from ssmctl.sandbox import moto_access
from ssmctl.sandbox.aws_errors import ApiError, validation
from ssmctl.sandbox.documents import parameter_problem
from ssmctl.sandbox.iam_enforce import authorize_session_call
from ssmctl.sandbox.paging import BadToken, keyset_page
from ssmctl.sandbox.request import CallContext, call_context, int_param, json_response
from ssmctl.sandbox.runtime import Runtime, current
from ssmctl.sandbox.sessions import DEFAULT_DOCUMENT, SessionRecord
from ssmctl.sandbox.ssm_nodes import managed_nodes
from ssmctl.sandbox.trail_records import HIDDEN, api_call_record

FILTER_KEYS = (
    "InvokedAfter",
    "InvokedBefore",
    "Target",
    "Owner",
    "Status",
    "SessionId",
    "AccessType",
)
_DOCUMENT_ARN = re.compile(r"^arn:aws:ssm:([a-z0-9-]+):(\d{12})?:document/(.+)$")
_DOCUMENT_NAME = re.compile(r"^[a-zA-Z0-9_\-.]{3,128}$")
# Session types whose output Session Manager can log, and where their preferences live.
_LOGGED_TYPES = ("Standard_Stream", "InteractiveCommands", "NonInteractiveCommands")

Outcome = tuple[dict[str, Any], dict[str, Any]]
"""(response body, CloudTrail responseElements)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _recorded(
    event_name: str, work: Callable[[CallContext, Runtime], Outcome]
) -> Callable[[Any], Any]:
    """A handler that serves `work` and records the call in CloudTrail, errors included."""

    def handler(self: Any) -> Any:
        ctx = call_context(self)
        runtime = current()
        parameters = _request_parameters(event_name, ctx.params)
        try:
            authorize_session_call(ctx, runtime, event_name)
            body, elements = work(ctx, runtime)
        except ApiError as exc:
            failure = (exc.error_type, exc.message)
            runtime.trail.add(
                api_call_record(
                    ctx,
                    event_name,
                    request_parameters=parameters,
                    response_elements=None,
                    now=_now(),
                    error=failure,
                )
            )
            raise
        runtime.trail.add(
            api_call_record(
                ctx,
                event_name,
                request_parameters=parameters,
                response_elements=elements,
                now=_now(),
            )
        )
        return json_response(body)

    return handler


def _request_parameters(event_name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    if event_name != "StartSession":
        return {"sessionId": params.get("SessionId")}
    names = {
        "Target": "target",
        "DocumentName": "documentName",
        "Parameters": "parameters",
        "Reason": "reason",
    }
    return {logged: params[name] for name, logged in names.items() if params.get(name) is not None}


def _text(params: Mapping[str, Any], name: str, field: str, low: int, high: int) -> str:
    value = params.get(name)
    if not isinstance(value, str):
        raise validation(field, value, "Member must not be null")
    if not low <= len(value) <= high:
        raise validation(field, value, f"Member must have length between {low} and {high}")
    return value


# --- StartSession ----------------------------------------------------------------------


def _document(ctx: CallContext, name: str) -> moto_access.DocumentInfo:
    """The Session document StartSession was asked for (InvalidDocument if unusable)."""
    match = _DOCUMENT_ARN.match(name)
    if match:
        region, account, name = match.groups()
        if region != ctx.region or (account and account != ctx.account_id):
            raise ApiError(
                "InvalidDocument", f"Document {match.group(0)} is not in this account and region."
            )
    if not _DOCUMENT_NAME.match(name):
        raise ApiError("InvalidDocument", f"Document name {name!r} is not valid.")
    document = moto_access.ssm_document(ctx.account_id, ctx.region, name)
    if document is None:
        raise ApiError("InvalidDocument", f"Document {name} does not exist in {ctx.region}.")
    if document.document_type != "Session":
        raise ApiError(
            "InvalidDocument", f"Document {name} is of type {document.document_type}, not Session."
        )
    return document


def _preferences(ctx: CallContext, document: moto_access.DocumentInfo | None) -> Mapping[str, Any]:
    """The `inputs` (logging, limits) that apply to a session of this document."""
    session_type = document.latest_content.get("sessionType") if document else "Standard_Stream"
    if session_type not in _LOGGED_TYPES:
        return {}
    if document is not None and session_type == "Standard_Stream":
        # Sessions started with an explicit document name use its latest version.
        inputs = document.latest_content.get("inputs")
    else:
        prefs = moto_access.ssm_document(ctx.account_id, ctx.region, DEFAULT_DOCUMENT)
        inputs = prefs.default_content.get("inputs") if prefs else None
    return inputs if isinstance(inputs, Mapping) else {}


def _output_url(
    ctx: CallContext, inputs: Mapping[str, Any], session_id: str
) -> dict[str, str] | None:
    urls: dict[str, str] = {}
    bucket, prefix = inputs.get("s3BucketName"), str(inputs.get("s3KeyPrefix") or "").strip("/")
    if bucket:
        key = f"{prefix}/{session_id}.log" if prefix else f"{session_id}.log"
        urls["S3OutputUrl"] = f"https://{bucket}.s3.{ctx.region}.amazonaws.com/{key}"
    group = inputs.get("cloudWatchLogGroupName")
    if group:
        urls["CloudWatchOutputUrl"] = (
            f"https://console.aws.amazon.com/cloudwatch/home?region={ctx.region}"
            f"#logEventViewer:group={group};stream={session_id}"
        )
    return urls or None


def _parameters(params: Mapping[str, Any]) -> dict[str, list[str]]:
    value = params.get("Parameters") or {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(x, str) for x in v)
        for k, v in value.items()
    ):
        raise validation("parameters", value, "Member must be a map of strings to lists of strings")
    return value


def _start(ctx: CallContext, runtime: Runtime) -> Outcome:
    params = ctx.params
    target = _text(params, "Target", "target", 1, 400)
    reason = params.get("Reason")
    if reason is not None:
        reason = _text(params, "Reason", "reason", 1, 256)
        if "\n" in reason or "\r" in reason:
            raise validation(
                "reason", reason, "Member must satisfy regular expression pattern: ^.{1,256}$"
            )
    parameters = _parameters(params)
    document = None
    if params.get("DocumentName"):
        document = _document(ctx, _text(params, "DocumentName", "documentName", 1, 2048))
        problem = parameter_problem(document.latest_content, parameters)
        if problem:
            raise ApiError("InvalidParameters", problem)
    elif parameters:
        raise ApiError(
            "InvalidParameters", "Parameters need a DocumentName: the default shell takes none."
        )
    online = any(
        v.node_id == target and v.registration.ping_status == "Online"
        for v in managed_nodes(runtime, ctx.account_id, ctx.region)
    )
    if not online:
        raise ApiError("TargetNotConnected", f"{target} is not connected.")
    inputs = _preferences(ctx, document)
    record, token = runtime.sessions.create(
        account_id=ctx.account_id,
        region=ctx.region,
        target=target,
        owner=ctx.caller.arn,
        caller_name=ctx.caller.name,
        document_name=document.name if document else DEFAULT_DOCUMENT,
        reason=reason,
        parameters=parameters,
        stream_url=lambda sid: runtime.stream_url(sid, secrets.token_urlsafe(24)),
        output_url=lambda sid: _output_url(ctx, inputs, sid),
        max_session_duration=str(inputs["maxSessionDuration"])
        if inputs.get("maxSessionDuration")
        else None,
        preferences=inputs,
    )
    body = {"SessionId": record.session_id, "TokenValue": token, "StreamUrl": record.stream_url}
    elements = {
        "sessionId": record.session_id,
        "tokenValue": HIDDEN,
        "streamUrl": record.stream_url,
    }
    return body, elements


def _terminate(ctx: CallContext, runtime: Runtime) -> Outcome:
    session_id = _text(ctx.params, "SessionId", "sessionId", 1, 96)
    # AWS answers success for a session it does not know; so does the sandbox.
    runtime.sessions.terminate(ctx.account_id, ctx.region, session_id)
    return {"SessionId": session_id}, {"sessionId": session_id}


def _resume(ctx: CallContext, runtime: Runtime) -> Outcome:
    session_id = _text(ctx.params, "SessionId", "sessionId", 1, 96)
    record, token = runtime.sessions.resume(ctx.account_id, ctx.region, session_id)
    if record is None:
        raise ApiError("DoesNotExistException", f"Session {session_id} does not exist.")
    if not token:
        # An ended session cannot be resumed: success, but no token and no stream.
        return {"SessionId": session_id, "TokenValue": ""}, {"sessionId": session_id}
    body = {"SessionId": session_id, "TokenValue": token, "StreamUrl": record.stream_url}
    return body, {"sessionId": session_id, "tokenValue": HIDDEN, "streamUrl": record.stream_url}


start_session_handler = _recorded("StartSession", _start)
terminate_session_handler = _recorded("TerminateSession", _terminate)
resume_session_handler = _recorded("ResumeSession", _resume)


# --- DescribeSessions --------------------------------------------------------------------


def _timestamp(value: str, key: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            "ValidationException",
            f"The {key} filter value {value!r} is not a timestamp such as 2018-08-29T00:00:00Z.",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _session_filters(params: Mapping[str, Any]) -> list[Callable[[SessionRecord], bool]]:
    filters = params.get("Filters")
    if filters is None:
        return []
    if not isinstance(filters, list) or not filters:
        raise validation("filters", filters, "Member must have length greater than or equal to 1")
    if len(filters) > 6:
        raise validation(
            "filters",
            f"[{len(filters)} filters]",
            "Member must have length less than or equal to 6",
        )
    out: list[Callable[[SessionRecord], bool]] = []
    for index, item in enumerate(filters, 1):
        key, value = item.get("key"), item.get("value")
        if key not in FILTER_KEYS:
            enum = ", ".join(FILTER_KEYS)
            raise validation(
                f"filters.{index}.member.key", key, f"Member must satisfy enum value set: [{enum}]"
            )
        if not isinstance(value, str) or not 1 <= len(value) <= 400:
            raise validation(
                f"filters.{index}.member.value", value, "Member must have length between 1 and 400"
            )
        out.append(_session_filter(key, value))
    return out


def _session_filter(key: str, value: str) -> Callable[[SessionRecord], bool]:
    if key == "InvokedAfter":
        moment = _timestamp(value, key)
        return lambda s: s.start >= moment
    if key == "InvokedBefore":
        moment = _timestamp(value, key)
        return lambda s: s.start < moment
    attribute = {
        "Target": "target",
        "Owner": "owner",
        "Status": "status",
        "SessionId": "session_id",
        "AccessType": "access_type",
    }[key]
    return lambda s: bool(getattr(s, attribute) == value)


def describe_sessions_handler(self: Any) -> tuple[str, dict[str, Any]]:
    ctx = call_context(self)
    runtime = current()
    params = ctx.params
    state = params.get("State")
    if state not in ("Active", "History"):
        raise validation("state", state, "Member must satisfy enum value set: [Active, History]")
    limit = int_param(params, "MaxResults", "maxResults", default=20, low=1, high=200)
    predicates = _session_filters(params)
    query = {"state": state, "filters": params.get("Filters") or []}
    after = None
    if params.get("NextToken"):
        try:
            after = runtime.codec.decode(str(params["NextToken"]), "DescribeSessions", query)
        except BadToken:
            raise ApiError("InvalidNextToken", "The specified token is not valid.") from None
    chosen = [
        s
        for s in runtime.sessions.list(ctx.account_id, ctx.region, state)
        if all(p(s) for p in predicates)
    ]
    page, position = keyset_page(
        chosen, lambda s: [-s.start.timestamp(), s.session_id], after, limit
    )
    body: dict[str, Any] = {"Sessions": [s.to_api() for s in page]}
    if position is not None:
        body["NextToken"] = runtime.codec.encode("DescribeSessions", query, position)
    return json_response(body)
