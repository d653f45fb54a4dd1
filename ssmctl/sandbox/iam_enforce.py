"""Enforcing IAM policies on the session APIs when the fleet says `iam: {enforce: true}`.

Each request is evaluated for the caller's identity-based policies (an IAM user's own and
its groups'; an assumed role's), read from moto at the time of the request so policies
changed through the IAM API apply at once. What is checked, on which resource and with
which context keys is listed in docs/sandbox.md ("IAM policies").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ssmctl.sandbox import moto_access
from ssmctl.sandbox.aws_errors import ApiError, QueryApiError
from ssmctl.sandbox.iam_eval import EXPLICIT_DENY, Decision, evaluate, make_context
from ssmctl.sandbox.iam_policy import Policy, PolicyFormatError, parse_policy
from ssmctl.sandbox.identity import Caller
from ssmctl.sandbox.request import CALLER_KEY, REQUEST_ID_KEY, CallContext
from ssmctl.sandbox.runtime import Runtime, current
from ssmctl.sandbox.sessions import DEFAULT_DOCUMENT

SESSION_TAG = "aws:ssmmessages:session-id"
DOCUMENT_CHECK_KEY = "ssm:SessionDocumentAccessCheck"


class PolicyUnreadable(Exception):
    """A stored policy the sandbox's evaluator cannot read."""


def enforcing(runtime: Runtime) -> bool:
    return runtime.fleet.iam.enforce


def load_policies(account_id: str, principal_arn: str) -> list[Policy] | None:
    """The parsed identity-based policies of a user, group or role; None if it is unknown."""
    texts = moto_access.principal_policies(account_id, principal_arn)
    if texts is None:
        return None
    policies = []
    for text in texts:
        try:
            policies.append(parse_policy(text.document, text.policy_id, text.policy_type))
        except PolicyFormatError as exc:
            raise PolicyUnreadable(f"policy {text.policy_id}: {exc}") from None
    return policies


def principal_of(caller: Caller) -> str:
    """Whose policies apply: the user, or the role behind an assumed-role session."""
    return caller.role_arn if caller.kind == "AssumedRole" else caller.arn


def caller_context(caller: Caller, region: str, source_ip: str = "") -> dict[str, list[str]]:
    """The global condition keys IAM puts in every request's context."""
    now = dt.datetime.now(dt.timezone.utc)
    entries = {
        "aws:userid": [caller.principal_id],
        "aws:PrincipalArn": [principal_of(caller)],
        "aws:PrincipalAccount": [caller.account_id],
        "aws:PrincipalType": ["User" if caller.kind == "IAMUser" else "AssumedRole"],
        "aws:RequestedRegion": [region],
        "aws:CurrentTime": [now.strftime("%Y-%m-%dT%H:%M:%SZ")],
        "aws:EpochTime": [str(int(now.timestamp()))],
    }
    if caller.kind == "IAMUser":
        entries["aws:username"] = [caller.name]
    if source_ip:
        entries["aws:SourceIp"] = [source_ip]
    return entries


def tag_context(tags: Mapping[str, str], service: str = "ssm") -> dict[str, list[str]]:
    """`<service>:resourceTag/<key>` and `aws:ResourceTag/<key>` for a resource's tags."""
    out: dict[str, list[str]] = {}
    for key, value in tags.items():
        out[f"{service}:resourceTag/{key}"] = [value]
        out[f"aws:ResourceTag/{key}"] = [value]
    return out


def denial(caller: Caller, action: str, resource: str, decision: Decision) -> str:
    """AWS's AccessDenied message."""
    why = (
        "with an explicit deny in an identity-based policy"
        if decision.decision == EXPLICIT_DENY
        else f"because no identity-based policy allows the {action} action"
    )
    return (
        f"User: {caller.arn} is not authorized to perform: {action} on resource: {resource} {why}"
    )


def first_denied(
    caller: Caller,
    action: str,
    resources: Sequence[tuple[str, Mapping[str, list[str]]]],
    base: Mapping[str, list[str]],
) -> tuple[str, Decision] | None:
    """The first (resource, decision) the caller is refused, or None when all are allowed."""
    policies = load_policies(caller.account_id, principal_of(caller)) or []
    for resource, extra in resources:
        decision = evaluate(policies, action, resource, make_context({**base, **extra}))
        if not decision.allowed:
            return resource, decision
    return None


# --- SSM (JSON protocol) -----------------------------------------------------------------


def _check_json(
    caller: Caller,
    action: str,
    resources: Sequence[tuple[str, Mapping[str, list[str]]]],
    base: Mapping[str, list[str]],
    shown: str | None = None,
) -> None:
    try:
        refused = first_denied(caller, action, resources, base)
    except PolicyUnreadable as exc:
        raise ApiError("InternalServerError", f"the sandbox cannot evaluate {exc}", 500) from None
    if refused is not None:
        resource, decision = refused
        raise ApiError("AccessDeniedException", denial(caller, action, shown or resource, decision))


def target_arn(region: str, account_id: str, target: str) -> str:
    if target.startswith("mi-"):
        return f"arn:aws:ssm:{region}:{account_id}:managed-instance/{target}"
    return f"arn:aws:ec2:{region}:{account_id}:instance/{target}"


def document_arn(region: str, account_id: str, name: str | None) -> str:
    """The ARN StartSession is authorised on for DocumentName (AWS-owned: no account)."""
    name = name or DEFAULT_DOCUMENT
    if name.startswith("arn:"):
        return name
    owner = "" if name.startswith("AWS-") else account_id
    return f"arn:aws:ssm:{region}:{owner}:document/{name}"


def _target_tags(runtime: Runtime, account_id: str, region: str, target: str) -> dict[str, str]:
    if target.startswith("mi-"):
        try:
            return runtime.nodes.tags_of(target)
        except KeyError:
            return {}
    instance = moto_access.ec2_instance(account_id, region, target)
    return dict(instance.tags) if instance is not None else {}


def _starter_id(account_id: str, owner_arn: str) -> str | None:
    """aws:userid of whoever started a session (its owner ARN), as AWS tags sessions."""
    kind, _, rest = owner_arn.partition(":iam::")[2].partition(":")[2].partition("/")
    if kind == "user":
        found = moto_access.user_identity(account_id, rest.rsplit("/", 1)[-1])
        return found[1] if found else None
    _, _, assumed = owner_arn.partition(":assumed-role/")
    role_name, _, session_name = assumed.partition("/")
    role = moto_access.role_identity(account_id, f"arn:aws:iam::{account_id}:role/{role_name}")
    return f"{role[1]}:{session_name}" if role and session_name else None


def authorize_session_call(ctx: CallContext, runtime: Runtime, event_name: str) -> None:
    """StartSession / ResumeSession / TerminateSession: AccessDeniedException unless the
    caller's policies allow the action on every resource it touches."""
    if not enforcing(runtime):
        return
    base = caller_context(ctx.caller, ctx.region, ctx.source_ip)
    action = f"ssm:{event_name}"
    if event_name == "StartSession":
        target, document = ctx.params.get("Target"), ctx.params.get("DocumentName")
        if not isinstance(target, str) or not isinstance(document, (str, type(None))):
            return  # the handler answers with the validation error
        tags = _target_tags(runtime, ctx.account_id, ctx.region, target)
        check = {DOCUMENT_CHECK_KEY: ["true"]}
        resources = [
            (target_arn(ctx.region, ctx.account_id, target), {**tag_context(tags), **check}),
            (document_arn(ctx.region, ctx.account_id, document), check),
        ]
        _check_json(ctx.caller, action, resources, base)
        return
    session_id = ctx.params.get("SessionId")
    if not isinstance(session_id, str):
        return
    record = runtime.sessions.get(ctx.account_id, ctx.region, session_id)
    starter = _starter_id(ctx.account_id, record.owner) if record is not None else None
    tags = {SESSION_TAG: starter} if starter else {}
    arn = f"arn:aws:ssm:{ctx.region}:{ctx.account_id}:session/{session_id}"
    _check_json(ctx.caller, action, [(arn, tag_context(tags))], base)


Handler = Callable[[Any], Any]


def guarded(action: str, handler: Handler) -> Handler:
    """A handler for an action without resource-level permissions (Resource "*")."""

    def guard(self: Any) -> Any:
        runtime = current()
        if enforcing(runtime):
            environ = self.normalized_request.environ
            caller = environ.get(CALLER_KEY)
            if isinstance(caller, Caller):
                region = str(self.region)
                base = caller_context(caller, region, str(environ.get("REMOTE_ADDR", "")))
                shown = f"arn:aws:ssm:{region}:{caller.account_id}:*"
                _check_json(caller, action, [("*", {})], base, shown)
        return handler(self)

    guard.__name__ = getattr(handler, "__name__", "guard")
    return guard


# --- IAM (query protocol) ----------------------------------------------------------------


def authorize_query(self: Any, action: str, resource: str) -> None:
    """For an IAM handler: AccessDenied (403) unless the caller may do `action`."""
    runtime = current()
    if not enforcing(runtime):
        return
    environ = self.normalized_request.environ
    caller = environ.get(CALLER_KEY)
    request_id = str(environ.get(REQUEST_ID_KEY, ""))
    if not isinstance(caller, Caller):
        return
    base = caller_context(caller, "us-east-1", str(environ.get("REMOTE_ADDR", "")))
    try:
        refused = first_denied(caller, action, [(resource, {})], base)
    except PolicyUnreadable as exc:
        raise QueryApiError(
            "ServiceFailure", f"the sandbox cannot evaluate {exc}", 500, request_id
        ) from None
    if refused is not None:
        message = denial(caller, action, resource, refused[1])
        raise QueryApiError("AccessDenied", message, 403, request_id)
