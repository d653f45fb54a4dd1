"""Run Command: SendCommand and CancelCommand, and what an emulated agent runs.

A command goes to exactly the nodes asked for (moto would send it to every instance).
Each invocation runs for real on the machine running the sandbox: AWS-RunShellScript's
`commands` with `sh -c`, AWS-RunPowerShellScript's with `pwsh` (a clear failure when
pwsh is not installed), in the node's own working directory, as the user running the
sandbox. docs/sandbox.md describes the whole emulation.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ssmctl.sandbox import moto_access
from ssmctl.sandbox.aws_errors import ApiError, check_range, validation
from ssmctl.sandbox.command_documents import RUNNABLE, CommandDocument
from ssmctl.sandbox.command_exec import Execution, Result, Script, node_environment
from ssmctl.sandbox.command_models import Command, Invocation
from ssmctl.sandbox.command_targets import (
    MAX_INSTANCE_IDS,
    by_instance_ids,
    by_targets,
    node_states,
    registered_nodes,
)
from ssmctl.sandbox.documents import parameter_problem
from ssmctl.sandbox.request import CallContext, call_context, json_response
from ssmctl.sandbox.runtime import Runtime, current

_DOCUMENT_NAME = re.compile(r"^[a-zA-Z0-9_\-.:/]{3,128}$")
_CONCURRENCY = re.compile(r"^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$")
_ERRORS = re.compile(r"^([1-9][0-9]*|[0]|[1-9][0-9]%|[0-9]%|100%)$")
_VERSIONS = ("$DEFAULT", "$LATEST", "1")
_ECHOED = (
    "OutputS3Region",
    "OutputS3BucketName",
    "OutputS3KeyPrefix",
    "NotificationConfig",
    "CloudWatchOutputConfig",
)
NO_PWSH = (
    "pwsh (PowerShell 7) is not installed on the machine running the ssmctl sandbox, which "
    "runs AWS-RunPowerShellScript with it: install PowerShell, or target Linux nodes with "
    "AWS-RunShellScript.\n"
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def find_command(ctx: CallContext, runtime: Runtime, command_id: object) -> Command:
    """The caller's command by id (InvalidCommandId if there is none here)."""
    command = runtime.commands.get(command_id) if isinstance(command_id, str) else None
    if command is None or (command.account_id, command.region) != (ctx.account_id, ctx.region):
        raise ApiError("InvalidCommandId", f"Command {command_id} does not exist in {ctx.region}.")
    return command


def _document(ctx: CallContext, params: Mapping[str, Any]) -> CommandDocument:
    name = params.get("DocumentName")
    if not isinstance(name, str) or not _DOCUMENT_NAME.match(name):
        raise validation(
            "documentName",
            name,
            r"Member must satisfy regular expression pattern: "
            r"^[a-zA-Z0-9_\-.:/]{3,128}$",
        )
    name = name.rsplit("document/", 1)[-1] if name.startswith("arn:") else name
    info = moto_access.ssm_document(ctx.account_id, ctx.region, name)
    if info is None:
        raise ApiError("InvalidDocument", f"Document with name {name} does not exist.")
    if info.document_type != "Command":
        raise ApiError(
            "InvalidDocument", f"Document {name} is of type {info.document_type}, not Command."
        )
    document = RUNNABLE.get(name)
    if document is None:
        raise ApiError(
            "InvalidDocument",
            f"The ssmctl sandbox runs only {' and '.join(RUNNABLE)}, not {name}.",
        )
    return document


def _parameters(ctx: CallContext, document: CommandDocument, params: Mapping[str, Any]) -> Any:
    value = params.get("Parameters") or {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(x, str) for x in v)
        for k, v in value.items()
    ):
        raise validation("parameters", "***", "Member must be a map of strings to lists of strings")
    info = moto_access.ssm_document(ctx.account_id, ctx.region, document.name)
    assert info is not None
    problem = parameter_problem(info.default_content, value)
    if problem:
        raise ApiError("InvalidParameters", problem)
    if not value.get("commands"):
        raise ApiError("InvalidParameters", "Parameter commands needs at least one command.")
    return value


def _limit(params: Mapping[str, Any], name: str, pattern: re.Pattern[str], default: str) -> str:
    value = params.get(name)
    if value is None:
        return default
    if not isinstance(value, str) or not pattern.match(value):
        raise validation(
            name[0].lower() + name[1:],
            value,
            f"Member must satisfy regular expression pattern: {pattern.pattern}",
        )
    return value


def send_command_handler(self: Any) -> tuple[str, dict[str, Any]]:
    ctx = call_context(self)
    runtime = current()
    params = ctx.params
    document = _document(ctx, params)
    version = params.get("DocumentVersion") or "$DEFAULT"
    if version not in _VERSIONS:
        raise ApiError(
            "InvalidDocumentVersion", f"Document {document.name} has no version {version}."
        )
    parameters = _parameters(ctx, document, params)
    comment = params.get("Comment") or ""
    if not isinstance(comment, str) or len(comment) > 100:
        raise validation("comment", comment, "Member must have length less than or equal to 100")
    timeout = params.get("TimeoutSeconds", 3600)
    if isinstance(timeout, bool) or not isinstance(timeout, int):
        raise validation("timeoutSeconds", timeout, "Member must be an integer")
    check_range("timeoutSeconds", timeout, 30, 2_592_000)
    ids, targets = params.get("InstanceIds") or [], params.get("Targets") or []
    if bool(ids) == bool(targets):
        raise ApiError(
            "ValidationException",
            "Specify either InstanceIds (at most 50) or Targets (at most 5), not both or neither.",
        )
    nodes = registered_nodes(runtime, ctx.account_id, ctx.region)
    chosen = by_instance_ids(ctx, nodes, ids) if ids else by_targets(ctx, runtime, nodes, targets)
    command_id = str(uuid.uuid4())
    command = Command(
        command_id=command_id,
        account_id=ctx.account_id,
        region=ctx.region,
        document=document,
        document_version=version,
        comment=comment,
        parameters=parameters,
        instance_ids=list(ids),
        targets=list(targets),
        requested=_now(),
        timeout_seconds=timeout,
        execution_timeout=int(parameters.get("executionTimeout", ["3600"])[0]),
        max_concurrency=_limit(params, "MaxConcurrency", _CONCURRENCY, "50"),
        max_errors=_limit(params, "MaxErrors", _ERRORS, "0"),
        extra={
            "ServiceRole": params.get("ServiceRoleArn") or "",
            **{k: params[k] for k in _ECHOED if params.get(k) is not None},
        },
        invocations={
            n.node_id: Invocation(command_id, n.node_id, n.host_name, n.platform) for n in chosen
        },
    )
    account, region = ctx.account_id, ctx.region
    runtime.commands.add(
        command,
        node_states=lambda: node_states(runtime, account, region),
        prepare=lambda c, i: prepare(runtime, c, i),
    )
    with runtime.commands.locked():
        body = {"Command": command.to_api()}
    return json_response(body)


def prepare(runtime: Runtime, command: Command, invocation: Invocation) -> Execution | Result:
    """The process that runs `command` on the invocation's node (or why none can)."""
    home = runtime.workdirs.path(invocation.node_id)
    wanted = (command.parameters.get("workingDirectory") or [""])[0]
    cwd = home if not wanted else Path(wanted) if os.path.isabs(wanted) else home / wanted
    if not cwd.is_dir():
        return Result(1, "", f"Working directory {wanted} does not exist on the node.\n")
    script = "\n".join(command.parameters["commands"])
    if command.document.shell == "sh":
        argv: tuple[str, ...] = ("sh", "-c", script)
    else:
        pwsh = shutil.which("pwsh")
        if pwsh is None:
            return Result(127, "", NO_PWSH)
        argv = (pwsh, "-NoLogo", "-NoProfile", "-NonInteractive", "-Command", script)
    env = node_environment(invocation.node_id, command.region, cwd)
    return Execution(Script(argv, cwd, env, command.execution_timeout))


def cancel_command_handler(self: Any) -> tuple[str, dict[str, Any]]:
    ctx = call_context(self)
    runtime = current()
    command = find_command(ctx, runtime, ctx.params.get("CommandId"))
    ids = ctx.params.get("InstanceIds") or None
    if ids is not None:
        if not isinstance(ids, list) or len(ids) > MAX_INSTANCE_IDS:
            raise validation(
                "instanceIds",
                ids,
                f"Member must have length less than or equal to {MAX_INSTANCE_IDS}",
            )
        if len(set(ids)) != len(ids):
            raise ApiError("DuplicateInstanceId", "An instance id is listed more than once.")
        with runtime.commands.locked():
            unknown = [i for i in ids if i not in command.invocations]
        if unknown:
            raise ApiError(
                "InvalidInstanceId", f"Command {command.command_id} was not sent to {unknown[0]}."
            )
    runtime.commands.cancel(command, ids)
    return json_response({})
