"""What a session runs, worked out from its record, its document and its target.

The service resolves the document (its `sessionType`, and its `properties` with the
parameters substituted) and the agent puts them in the HandshakeRequest; the
preferences `inputs` the session uses were resolved at StartSession and travel on the
session record. Nothing here does I/O.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ssmctl.datachannel.handshake import SessionType
from ssmctl.datachannel.versions import PortMode, port_mode

DEFAULT_IDLE_MINUTES = 20
"""idleSessionTimeout when the preferences do not set one (AWS's default)."""
DEFAULT_RUN_AS_USER = "ssm-user"
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")
_PLATFORM_KEYS = {"Linux": "linux", "MacOS": "macos", "Windows": "windows"}
_LOGGED = (
    SessionType.STANDARD_STREAM,
    SessionType.INTERACTIVE_COMMANDS,
    SessionType.NON_INTERACTIVE_COMMANDS,
)


class PlanError(Exception):
    """The session cannot run (a document the agent cannot use); the text says why."""


@dataclasses.dataclass(frozen=True)
class SessionPlan:
    """One session's type, properties (parameters substituted) and preferences."""

    session_type: SessionType
    properties: Mapping[str, Any]
    agent_version: str
    platform_key: str
    """Which platform block of a command document applies: linux, macos or windows."""
    preferences: Mapping[str, Any]

    @property
    def handshakes(self) -> bool:
        """Port and NonInteractiveCommands sessions open with the handshake (no KMS here)."""
        return self.session_type in (SessionType.PORT, SessionType.NON_INTERACTIVE_COMMANDS)

    @property
    def logged(self) -> bool:
        """Shell and command sessions are transcribed; port and SSH sessions never are."""
        return self.session_type in _LOGGED

    def _platform_block(self) -> Mapping[str, Any]:
        block = self.properties.get(self.platform_key)
        if not isinstance(block, Mapping):
            block = self.properties.get("linux")
        return block if isinstance(block, Mapping) else {}

    @property
    def command(self) -> str:
        """The command of an (Non)InteractiveCommands session."""
        commands = self._platform_block().get("commands")
        if isinstance(commands, list):
            commands = "\n".join(str(c) for c in commands)
        if not isinstance(commands, str) or not commands.strip():
            raise PlanError(f"The {self.platform_key} properties of the document name no commands.")
        return commands

    @property
    def separate_output(self) -> bool:
        """NonInteractiveCommands: stderr as StdErr messages and the exit code at the end."""
        return _truthy(self._platform_block().get("separateOutputStream"))

    @property
    def shell_profile(self) -> str:
        """The preferences' shellProfile for this platform (Standard_Stream only)."""
        profile = self.preferences.get("shellProfile")
        if self.session_type is not SessionType.STANDARD_STREAM or not isinstance(profile, Mapping):
            return ""
        text = profile.get("windows" if self.platform_key == "windows" else "linux")
        return text.strip() if isinstance(text, str) else ""

    @property
    def run_as_user(self) -> str:
        """The user AWS would run the shell as (the sandbox runs it as its own user)."""
        user = self.preferences.get("runAsDefaultUser")
        if _truthy(self.preferences.get("runAsEnabled")) and isinstance(user, str) and user:
            return user
        return DEFAULT_RUN_AS_USER

    @property
    def idle_minutes(self) -> float:
        """idleSessionTimeout: minutes without input from the client (1-60, default 20)."""
        return _minutes(self.preferences.get("idleSessionTimeout"), 60) or DEFAULT_IDLE_MINUTES

    @property
    def max_minutes(self) -> float | None:
        """maxSessionDuration: minutes from the start (1-1440), None when unlimited."""
        return _minutes(self.preferences.get("maxSessionDuration"), 1440)

    # -- port sessions -------------------------------------------------------------

    @property
    def port_mode(self) -> PortMode:
        return port_mode(self.properties, self.agent_version)

    @property
    def port_number(self) -> int:
        value = str(self.properties.get("portNumber", "")).strip()
        if not value.isdigit() or not 1 <= int(value) <= 65535:
            raise PlanError(f"portNumber {value!r} is not a port between 1 and 65535.")
        return int(value)

    @property
    def destination_host(self) -> str:
        """Where the emulated instance connects: `host` (resolved on the sandbox's machine)
        for AWS-StartPortForwardingSessionToRemoteHost, else the loopback address."""
        host = self.properties.get("host")
        return host.strip() if isinstance(host, str) and host.strip() else "127.0.0.1"


def plan_session(
    *,
    document_name: str,
    content: Mapping[str, Any] | None,
    parameters: Mapping[str, Sequence[str]],
    preferences: Mapping[str, Any],
    agent_version: str,
    platform_type: str,
    default_document: str,
) -> SessionPlan:
    """The plan of a session of `document_name` (its latest `content`; None for the
    default shell document, which may not exist at all)."""
    platform_key = _PLATFORM_KEYS.get(platform_type, "linux")
    if document_name == default_document or content is None:
        if document_name != default_document:
            raise PlanError(f"Document {document_name} no longer exists.")
        return SessionPlan(
            SessionType.STANDARD_STREAM, {}, agent_version, platform_key, preferences
        )
    try:
        session_type = SessionType(str(content.get("sessionType")))
    except ValueError:
        raise PlanError(
            f"Document {document_name} has sessionType {content.get('sessionType')!r}, "
            "which the sandbox's agent does not run."
        ) from None
    declared = content.get("parameters")
    values = _parameter_values(declared if isinstance(declared, Mapping) else {}, parameters)
    properties = content.get("properties")
    substituted = _substitute(properties if isinstance(properties, Mapping) else {}, values)
    return SessionPlan(session_type, substituted, agent_version, platform_key, preferences)


def _parameter_values(
    declared: Mapping[str, Any], given: Mapping[str, Sequence[str]]
) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, spec in declared.items():
        default = spec.get("default") if isinstance(spec, Mapping) else None
        if default is not None:
            values[name] = ",".join(default) if isinstance(default, list) else str(default)
    for name, given_values in given.items():
        values[name] = ",".join(given_values)
    return values


def _substitute(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), value)
    if isinstance(value, Mapping):
        return {k: _substitute(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, values) for v in value]
    return value


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True


def _minutes(value: object, high: int) -> float | None:
    # AWS keeps these as strings of whole minutes; anything unreadable means "not set".
    try:
        minutes = float(str(value).strip())
    except ValueError:
        return None
    return min(max(minutes, 1.0), float(high)) if minutes > 0 else None
