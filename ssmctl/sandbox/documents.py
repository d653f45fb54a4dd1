"""Session documents: the AWS-owned ones moto lacks, and how StartSession checks parameters.

The contents follow the public shape of AWS's Session documents (schemaVersion 1.0,
`sessionType`, `parameters` with type/description/default/allowedPattern, `properties`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

# 1-65535 for a port on the target; 0 (pick one) is allowed for the local side.
_PORT = r"^([1-9]\d{0,3}|[1-5]\d{4}|6[0-4]\d{3}|65[0-4]\d{2}|655[0-2]\d|6553[0-5])$"
_LOCAL_PORT = r"^(0|[1-9]\d{0,3}|[1-5]\d{4}|6[0-4]\d{3}|65[0-4]\d{2}|655[0-2]\d|6553[0-5])$"


def _port(description: str, default: str, pattern: str = _PORT) -> dict[str, str]:
    return {
        "type": "String",
        "description": description,
        "allowedPattern": pattern,
        "default": default,
    }


def _command_properties(*, separate: bool = False) -> dict[str, Any]:
    step: dict[str, Any] = {"commands": "{{ command }}", "runAsElevated": False}
    if separate:
        step["separateOutputStream"] = "{{ separateOutputStream }}"
    return {"linux": dict(step), "windows": dict(step), "macos": dict(step)}


_REMOTE_PORT = _port("(Optional) Port number of the server on the instance", "80")
_LOCAL = _port(
    "(Optional) Port number on local machine to forward traffic to. "
    "An open port is chosen at run-time if not provided",
    "0",
    _LOCAL_PORT,
)
_COMMAND = {
    "type": "String",
    "description": "(Required) The command to run on the instance",
    "allowedPattern": r"^[^\n]+$",
}

AWS_SESSION_DOCUMENTS: Mapping[str, dict[str, Any]] = {
    "AWS-StartPortForwardingSession": {
        "schemaVersion": "1.0",
        "description": "Document to start port forwarding session over Session Manager",
        "sessionType": "Port",
        "parameters": {"portNumber": _REMOTE_PORT, "localPortNumber": _LOCAL},
        "properties": {
            "portNumber": "{{ portNumber }}",
            "type": "LocalPortForwarding",
            "localPortNumber": "{{ localPortNumber }}",
        },
    },
    "AWS-StartPortForwardingSessionToRemoteHost": {
        "schemaVersion": "1.0",
        "description": (
            "Document to start port forwarding session over Session Manager to a remote host"
        ),
        "sessionType": "Port",
        "parameters": {
            "host": {
                "type": "String",
                "description": "(Required) The hostname or IP address of the destination server",
                "allowedPattern": r"^[^,$^&\(\)!;'\"<>\`{}\[\]\|#=]{3,}$",
            },
            "portNumber": _REMOTE_PORT,
            "localPortNumber": _LOCAL,
        },
        "properties": {
            "host": "{{ host }}",
            "portNumber": "{{ portNumber }}",
            "type": "LocalPortForwarding",
            "localPortNumber": "{{ localPortNumber }}",
        },
    },
    "AWS-StartSSHSession": {
        "schemaVersion": "1.0",
        "description": "Document to start SSH session over Session Manager",
        "sessionType": "Port",
        "parameters": {
            "portNumber": _port("(Optional) Port number of SSH server on the instance", "22")
        },
        "properties": {"portNumber": "{{ portNumber }}"},
    },
    "AWS-StartInteractiveCommand": {
        "schemaVersion": "1.0",
        "description": "Document to run single interactive command on an instance",
        "sessionType": "InteractiveCommands",
        "parameters": {"command": _COMMAND},
        "properties": _command_properties(),
    },
    "AWS-StartNonInteractiveCommand": {
        "schemaVersion": "1.0",
        "description": "Document to run single non-interactive command on an instance",
        "sessionType": "NonInteractiveCommands",
        "parameters": {
            "command": _COMMAND,
            "separateOutputStream": {
                "type": "String",
                "description": (
                    "(Optional) Separate the StdOut, StdErr and Exit code for Non-interactive "
                    "command output"
                ),
                "allowedPattern": "^(true|false)$",
                "default": "false",
            },
        },
        "properties": _command_properties(separate=True),
    },
}


def parameter_problem(
    content: Mapping[str, Any], parameters: Mapping[str, Sequence[str]]
) -> str | None:
    """Why `parameters` do not fit the document's declared parameters, or None if they do."""
    declared = content.get("parameters") or {}
    if not isinstance(declared, Mapping):
        declared = {}
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        return f"Parameter(s) {', '.join(unknown)} are not defined in the document."
    for name, spec in declared.items():
        values = parameters.get(name)
        if values is None:
            if not isinstance(spec, Mapping) or "default" not in spec:
                return f"Parameter {name} is required but was not provided."
            continue
        pattern = spec.get("allowedPattern") if isinstance(spec, Mapping) else None
        for value in values:
            if not isinstance(value, str):
                return f"Parameter {name} must be a list of strings."
            if pattern and not re.search(pattern, value):
                return f"Parameter {name} value {value!r} does not match {pattern}."
    return None
