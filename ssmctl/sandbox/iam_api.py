"""IAM SimulatePrincipalPolicy and SimulateCustomPolicy (moto lacks both).

Each becomes a method of moto's IAM response class (patches.py). Results are shaped like
AWS's: one EvaluationResult per action and resource, with the statements that decided
(policy id and type, start and end line/column) and the context keys the relevant
statements name but the request did not supply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ssmctl.sandbox.aws_errors import QueryApiError
from ssmctl.sandbox.iam_enforce import PolicyUnreadable, authorize_query, load_policies
from ssmctl.sandbox.iam_eval import Decision, evaluate, make_context
from ssmctl.sandbox.iam_policy import Policy, PolicyFormatError, parse_policy
from ssmctl.sandbox.request import REQUEST_ID_KEY
from ssmctl.sandbox.runtime import current

_MAX_ITEMS = 1000


def _fail(self: Any, code: str, message: str, status: int = 400) -> QueryApiError:
    request_id = str(self.normalized_request.environ.get(REQUEST_ID_KEY, ""))
    return QueryApiError(code, message, status, request_id)


def _input_policies(self: Any, texts: Sequence[str]) -> list[Policy]:
    out = []
    for index, text in enumerate(texts, 1):
        try:
            out.append(parse_policy(str(text), f"PolicyInputList.{index}", "none"))
        except PolicyFormatError as exc:
            raise _fail(self, "InvalidInput", f"PolicyInputList.{index}: {exc}") from None
    return out


def _context(self: Any) -> dict[str, list[str]]:
    entries: dict[str, list[str]] = {}
    for entry in self._get_param("ContextEntries") or []:
        name = entry.get("ContextKeyName")
        if not name:
            raise _fail(self, "InvalidInput", "Every context entry needs a ContextKeyName.")
        entries.setdefault(str(name), []).extend(str(v) for v in entry.get("ContextKeyValues", []))
    return entries


def _actions(self: Any) -> list[str]:
    actions = [str(a) for a in self._get_param("ActionNames") or []]
    if not actions:
        raise _fail(self, "InvalidInput", "ActionNames must name at least one action.")
    for action in actions:
        service, sep, name = action.partition(":")
        if not (sep and service and name) or "*" in action:
            raise _fail(self, "InvalidInput", f"Action {action!r} is not service:Action.")
    return actions


def _result(action: str, resource: str, decision: Decision) -> dict[str, Any]:
    statements = [m.to_api() for m in decision.matched]
    missing = list(decision.missing)
    return {
        "EvalActionName": action,
        "EvalResourceName": resource,
        "EvalDecision": decision.decision,
        "MatchedStatements": statements,
        "MissingContextValues": missing,
        "ResourceSpecificResults": [
            {
                "EvalResourceName": resource,
                "EvalResourceDecision": decision.decision,
                "MatchedStatements": statements,
                "MissingContextValues": missing,
            }
        ],
    }


def _simulate(self: Any, policies: Sequence[Policy]) -> Any:
    from moto.core.responses import ActionResult

    if self._get_param("ResourcePolicy"):
        raise _fail(self, "InvalidInput", "The sandbox does not evaluate resource policies.")
    actions = _actions(self)
    resources = [str(r) for r in self._get_param("ResourceArns") or []] or ["*"]
    context = make_context(_context(self))
    results = [
        _result(action, resource, evaluate(policies, action, resource, context))
        for action in actions
        for resource in resources
    ]
    return ActionResult(_page(self, results))


def _page(self: Any, results: list[dict[str, Any]]) -> Mapping[str, Any]:
    limit = self._get_param("MaxItems") or 100
    if not 1 <= int(limit) <= _MAX_ITEMS:
        raise _fail(self, "InvalidInput", f"MaxItems must be between 1 and {_MAX_ITEMS}.")
    marker = str(self._get_param("Marker") or "0")
    if not marker.isdigit() or int(marker) > len(results):
        raise _fail(self, "InvalidInput", "Invalid Marker.")
    start = int(marker)
    end = start + int(limit)
    page: dict[str, Any] = {"EvaluationResults": results[start:end], "IsTruncated": False}
    if end < len(results):
        page.update(IsTruncated=True, Marker=str(end))
    return page


def simulate_principal_policy_handler(self: Any) -> Any:
    source = str(self._get_param("PolicySourceArn") or "")
    authorize_query(self, "iam:SimulatePrincipalPolicy", source)
    if ":assumed-role/" in source or ":iam::" not in source:
        raise _fail(
            self, "InvalidInput", f"PolicySourceArn {source} is not a user, group or role ARN."
        )
    try:
        policies = load_policies(current().account_id, source)
    except PolicyUnreadable as exc:
        raise _fail(self, "PolicyEvaluation", f"Cannot evaluate {exc}", 500) from None
    if policies is None:
        kind, _, name = source.rpartition(":")[2].partition("/")
        raise _fail(
            self,
            "NoSuchEntity",
            f"The {kind} with name {name.rsplit('/', 1)[-1]} cannot be found.",
            404,
        )
    extra = _input_policies(self, self._get_param("PolicyInputList") or [])
    return _simulate(self, policies + extra)


def simulate_custom_policy_handler(self: Any) -> Any:
    authorize_query(self, "iam:SimulateCustomPolicy", "*")
    texts = self._get_param("PolicyInputList") or []
    if not texts:
        raise _fail(self, "InvalidInput", "PolicyInputList must hold at least one policy.")
    return _simulate(self, _input_policies(self, texts))
