"""Run Command's read APIs: ListCommands, ListCommandInvocations (moto lacks it) and
GetCommandInvocation, with AWS's filters and signed NextTokens."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from ssmctl.sandbox.aws_errors import ApiError, validation
from ssmctl.sandbox.command_models import Command, Invocation
from ssmctl.sandbox.paging import BadToken, keyset_page
from ssmctl.sandbox.request import call_context, int_param, json_response
from ssmctl.sandbox.runtime import current
from ssmctl.sandbox.ssm_commands import find_command

FILTER_KEYS = ("InvokedAfter", "InvokedBefore", "Status", "ExecutionStage", "DocumentName")
# Status filter values each API accepts (AWS's lists; TimedOut covers both timeouts).
_COMMON = ("Pending", "InProgress", "Success", "Cancelled", "Failed", "TimedOut", "AccessDenied")
_TIMEOUTS = ("DeliveryTimedOut", "ExecutionTimedOut")
COMMAND_STATUSES = (*_COMMON, *_TIMEOUTS, "Incomplete", "NoInstancesInTag", "LimitExceeded")
INVOCATION_STATUSES = (
    *_COMMON,
    *_TIMEOUTS,
    "Delayed",
    "Undeliverable",
    "InvalidPlatform",
    "Terminated",
)

Row = tuple[Command, Invocation | None]
Predicate = Callable[[Command, "Invocation | None"], bool]


def _timestamp(value: str, key: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            "InvalidFilterValue",
            f"The {key} filter value {value!r} is not a timestamp such as 2024-07-07T00:00:00Z.",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _filters(params: Mapping[str, Any], *, invocations: bool) -> list[Predicate]:
    filters = params.get("Filters")
    if filters is None:
        return []
    if not isinstance(filters, list) or not 1 <= len(filters) <= 5:
        raise validation("filters", filters, "Member must have length between 1 and 5")
    out: list[Predicate] = []
    for item in filters:
        key, value = item.get("key"), item.get("value")
        if key not in FILTER_KEYS or (invocations and key == "ExecutionStage"):
            raise ApiError(
                "InvalidFilterKey",
                f"The filter key {key!r} is not valid"
                + (" for ListCommandInvocations." if key == "ExecutionStage" else "."),
            )
        if not isinstance(value, str) or not value:
            raise ApiError("InvalidFilterValue", f"The {key} filter needs a value.")
        out.append(_predicate(key, value, invocations=invocations))
    return out


def _predicate(key: str, value: str, *, invocations: bool) -> Predicate:
    if key in ("InvokedAfter", "InvokedBefore"):
        moment = _timestamp(value, key)
        if key == "InvokedAfter":
            return lambda c, _: c.requested >= moment
        return lambda c, _: c.requested < moment
    if key == "DocumentName":
        return lambda c, _: c.document.name == value
    if key == "ExecutionStage":
        if value not in ("Executing", "Complete"):
            raise ApiError("InvalidFilterValue", "ExecutionStage is Executing or Complete.")
        return lambda c, _: c.done == (value == "Complete")
    allowed = INVOCATION_STATUSES if invocations else COMMAND_STATUSES
    if value not in allowed:
        raise ApiError(
            "InvalidFilterValue", f"Status {value!r} is not one of {', '.join(allowed)}."
        )

    def status(c: Command, i: Invocation | None) -> bool:
        has = (i.status, i.details) if i is not None else (c.status, c.details)
        return value in has

    return status


def _page(
    self: Any, kind: str, rows: list[Row], default_limit: int
) -> tuple[list[Row], str | None, Any]:
    """One page of rows (newest command first, then by node id) and the next token."""
    ctx = call_context(self)
    runtime = current()
    params = ctx.params
    limit = int_param(params, "MaxResults", "maxResults", default=default_limit, low=1, high=50)
    query = {k: params.get(k) for k in ("CommandId", "InstanceId", "Filters", "Details")}
    after = None
    if params.get("NextToken"):
        try:
            after = runtime.codec.decode(str(params["NextToken"]), kind, query)
        except BadToken:
            raise ApiError("InvalidNextToken", "The specified token is not valid.") from None

    def key(row: Row) -> list[Any]:
        command, invocation = row
        node = invocation.node_id if invocation else ""
        return [-command.requested.timestamp(), command.command_id, node]

    rows.sort(key=key)
    page, position = keyset_page(rows, key, after, limit)
    token = runtime.codec.encode(kind, query, position) if position is not None else None
    return page, token, runtime


def _commands(self: Any, *, invocations: bool) -> tuple[list[Command], list[Predicate], Any]:
    ctx = call_context(self)
    runtime = current()
    params = ctx.params
    predicates = _filters(params, invocations=invocations)
    if params.get("CommandId") is not None:
        commands = [find_command(ctx, runtime, params["CommandId"])]
    else:
        commands = runtime.commands.commands(ctx.account_id, ctx.region)
    return commands, predicates, params.get("InstanceId")


def list_command_invocations_handler(self: Any) -> tuple[str, dict[str, Any]]:
    commands, predicates, instance_id = _commands(self, invocations=True)
    details = bool(call_context(self).params.get("Details"))
    store = current().commands
    with store.locked():
        rows: list[Row] = [
            (c, i)
            for c in commands
            for i in c.invocations.values()
            if instance_id in (None, i.node_id) and all(p(c, i) for p in predicates)
        ]
        page, token, _ = _page(self, "ListCommandInvocations", rows, 50)
        body: dict[str, Any] = {
            "CommandInvocations": [
                c.invocation_to_api(i, details=details) for c, i in page if i is not None
            ]
        }
    if token:
        body["NextToken"] = token
    return json_response(body)


def list_commands_handler(self: Any) -> tuple[str, dict[str, Any]]:
    commands, predicates, instance_id = _commands(self, invocations=False)
    store = current().commands
    with store.locked():
        rows: list[Row] = [
            (c, None)
            for c in commands
            if (instance_id is None or instance_id in c.invocations)
            and all(p(c, None) for p in predicates)
        ]
        page, token, _ = _page(self, "ListCommands", rows, 50)
        body: dict[str, Any] = {"Commands": [c.to_api() for c, _ in page]}
    if token:
        body["NextToken"] = token
    return json_response(body)


def get_command_invocation_handler(self: Any) -> tuple[str, dict[str, Any]]:
    ctx = call_context(self)
    runtime = current()
    params = ctx.params
    command = find_command(ctx, runtime, params.get("CommandId"))
    instance_id = params.get("InstanceId")
    with runtime.commands.locked():
        invocation = command.invocations.get(instance_id) if isinstance(instance_id, str) else None
        if invocation is None:
            raise ApiError(
                "InvocationDoesNotExist",
                f"Command {command.command_id} has no invocation on {instance_id}.",
            )
        plugin = params.get("PluginName")
        if plugin is not None and plugin != command.document.plugin:
            raise ApiError(
                "InvalidPluginName",
                f"Document {command.document.name} has no plugin {plugin}; "
                f"use {command.document.plugin}.",
            )
        body = command.get_invocation_to_api(invocation)
    return json_response(body)
