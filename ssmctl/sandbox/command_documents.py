"""The AWS-owned Command documents the sandbox runs: AWS-RunShellScript and
AWS-RunPowerShellScript (schemaVersion 1.2, one plugin each, as AWS publishes them)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

MAX_EXECUTION_TIMEOUT = 172_800
DEFAULT_EXECUTION_TIMEOUT = 3600
# 1 to 172800 seconds, as the documents' executionTimeout parameter allows.
_TIMEOUT_PATTERN = r"^([1-9][0-9]{0,4}|1[0-6][0-9]{4}|17[01][0-9]{3}|172[0-7][0-9]{2}|172800)$"


@dataclasses.dataclass(frozen=True)
class CommandDocument:
    """How the sandbox runs one document."""

    name: str
    plugin: str
    """The plugin (step) name ListCommandInvocations and GetCommandInvocation report."""
    shell: str
    """`sh` or `pwsh`."""
    platforms: tuple[str, ...]
    """Node platforms the document supports; others end InvalidPlatform."""


RUN_SHELL_SCRIPT = CommandDocument(
    "AWS-RunShellScript", "aws:runShellScript", "sh", ("Linux", "MacOS")
)
RUN_POWERSHELL_SCRIPT = CommandDocument(
    "AWS-RunPowerShellScript", "aws:runPowerShellScript", "pwsh", ("Windows", "Linux")
)
RUNNABLE: Mapping[str, CommandDocument] = {
    d.name: d for d in (RUN_SHELL_SCRIPT, RUN_POWERSHELL_SCRIPT)
}


def _content(document: CommandDocument, description: str, command_help: str) -> dict[str, Any]:
    return {
        "schemaVersion": "1.2",
        "description": description,
        "parameters": {
            "commands": {
                "type": "StringList",
                "description": command_help,
                "minItems": 1,
                "displayType": "textarea",
            },
            "workingDirectory": {
                "type": "String",
                "default": "",
                "description": "(Optional) The path to the working directory on your instance.",
                "maxChars": 4096,
            },
            "executionTimeout": {
                "type": "String",
                "default": str(DEFAULT_EXECUTION_TIMEOUT),
                "description": (
                    "(Optional) The time in seconds for a command to complete before it is "
                    "considered to have failed. Default is 3600 (1 hour). Maximum is 172800 "
                    "(48 hours)."
                ),
                "allowedPattern": _TIMEOUT_PATTERN,
            },
        },
        "runtimeConfig": {
            document.plugin: {
                "properties": [
                    {
                        "id": "0." + document.plugin,
                        "runCommand": "{{ commands }}",
                        "workingDirectory": "{{ workingDirectory }}",
                        "timeoutSeconds": "{{ executionTimeout }}",
                    }
                ]
            }
        },
    }


AWS_COMMAND_DOCUMENTS: Mapping[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    RUN_SHELL_SCRIPT.name: (
        _content(
            RUN_SHELL_SCRIPT,
            "Run a shell script or specify the commands to run.",
            "(Required) Specify a shell script or a command to run.",
        ),
        RUN_SHELL_SCRIPT.platforms,
    ),
    RUN_POWERSHELL_SCRIPT.name: (
        _content(
            RUN_POWERSHELL_SCRIPT,
            "Run a PowerShell script or specify the paths to scripts to run.",
            "(Required) Specify the commands to run or the paths to existing scripts "
            "on the instance.",
        ),
        RUN_POWERSHELL_SCRIPT.platforms,
    ),
}
"""Name -> (document content, platform types), for seeding."""
