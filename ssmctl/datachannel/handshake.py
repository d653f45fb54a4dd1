"""The session-start handshake (protocol.md section 5).

The agent sends a HandshakeRequest naming the session type and its properties (and KMS
when encryption is on); the client answers with a HandshakeResponse giving a status per
requested action; the agent closes with HandshakeComplete. All three travel as ordinary
stream messages (PayloadType 5, 6 and 7), sequenced and acked.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping
from typing import Any

from ssmctl.datachannel.errors import InvalidPayload
from ssmctl.datachannel.payloads import dump_json, field, load_json_object


class ActionType(str, enum.Enum):
    """ActionType of a requested client action."""

    SESSION_TYPE = "SessionType"
    KMS_ENCRYPTION = "KMSEncryption"


class ActionStatus(enum.IntEnum):
    """ActionStatus of a processed client action; the agent fails unless all are SUCCESS."""

    SUCCESS = 1
    FAILED = 2
    UNSUPPORTED = 3


class SessionType(str, enum.Enum):
    """The SessionType the agent names in its HandshakeRequest."""

    STANDARD_STREAM = "Standard_Stream"
    INTERACTIVE_COMMANDS = "InteractiveCommands"
    NON_INTERACTIVE_COMMANDS = "NonInteractiveCommands"
    PORT = "Port"


@dataclasses.dataclass(frozen=True)
class RequestedAction:
    """One entry of RequestedClientActions."""

    action_type: str
    parameters: Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class HandshakeRequest:
    """HandshakeRequest (agent -> client, PayloadType 5)."""

    agent_version: str
    actions: tuple[RequestedAction, ...]

    @classmethod
    def for_session(
        cls,
        agent_version: str,
        session_type: str,
        properties: Mapping[str, Any] | None = None,
        *,
        kms_key_id: str | None = None,
    ) -> HandshakeRequest:
        """The request for one session type, plus KMSEncryption when a key is given."""
        actions = [
            RequestedAction(
                ActionType.SESSION_TYPE.value,
                {"SessionType": session_type, "Properties": dict(properties or {})},
            )
        ]
        if kms_key_id is not None:
            actions.append(
                RequestedAction(ActionType.KMS_ENCRYPTION.value, {"KMSKeyId": kms_key_id})
            )
        return cls(agent_version, tuple(actions))

    def _parameters(self, action_type: ActionType) -> Mapping[str, Any] | None:
        for action in self.actions:
            if action.action_type == action_type.value:
                return action.parameters
        return None

    @property
    def session_type(self) -> str | None:
        """The requested SessionType, if any."""
        params = self._parameters(ActionType.SESSION_TYPE)
        value = params.get("SessionType") if params else None
        return value if isinstance(value, str) else None

    @property
    def properties(self) -> Mapping[str, Any]:
        """The session type's Properties ({} when absent)."""
        params = self._parameters(ActionType.SESSION_TYPE)
        value = params.get("Properties") if params else None
        return value if isinstance(value, Mapping) else {}

    @property
    def kms_key_id(self) -> str | None:
        """The KMS key when the agent asks for encryption."""
        params = self._parameters(ActionType.KMS_ENCRYPTION)
        value = params.get("KMSKeyId") if params else None
        return value if isinstance(value, str) else None

    def to_payload(self) -> bytes:
        """The JSON payload."""
        return dump_json(
            {
                "AgentVersion": self.agent_version,
                "RequestedClientActions": [
                    {"ActionType": a.action_type, "ActionParameters": dict(a.parameters)}
                    for a in self.actions
                ],
            }
        )

    @classmethod
    def from_payload(cls, payload: bytes) -> HandshakeRequest:
        """Parse the JSON payload."""
        what = "HandshakeRequest"
        obj = load_json_object(payload, what)
        actions = []
        for item in _objects(obj.get("RequestedClientActions"), what):
            params = item.get("ActionParameters") or {}
            if not isinstance(params, Mapping):
                raise InvalidPayload(f"{what}: ActionParameters is not an object")
            actions.append(RequestedAction(field(item, "ActionType", str, what), params))
        return cls(field(obj, "AgentVersion", str, what), tuple(actions))


@dataclasses.dataclass(frozen=True)
class ProcessedAction:
    """One entry of ProcessedClientActions."""

    action_type: str
    status: int
    result: Any = None
    error: str = ""


@dataclasses.dataclass(frozen=True)
class HandshakeResponse:
    """HandshakeResponse (client -> agent, PayloadType 6)."""

    client_version: str
    actions: tuple[ProcessedAction, ...]
    errors: tuple[str, ...] | None = None

    @classmethod
    def answering(
        cls,
        request: HandshakeRequest,
        client_version: str,
        supported: Iterable[str] = (ActionType.SESSION_TYPE.value,),
    ) -> HandshakeResponse:
        """SUCCESS for each requested action whose type is supported, else UNSUPPORTED.

        A client that performs an action with a result (KMS) builds its own
        ProcessedAction instead.
        """
        allowed = {str(getattr(s, "value", s)) for s in supported}
        return cls(
            client_version,
            tuple(
                ProcessedAction(
                    a.action_type,
                    ActionStatus.SUCCESS if a.action_type in allowed else ActionStatus.UNSUPPORTED,
                )
                for a in request.actions
            ),
        )

    @property
    def succeeded(self) -> bool:
        """True when every action succeeded (what the agent requires)."""
        return all(a.status == ActionStatus.SUCCESS for a in self.actions)

    def to_payload(self) -> bytes:
        """The JSON payload (`Errors` is null when there are none, as the plugin sends)."""
        return dump_json(
            {
                "ClientVersion": self.client_version,
                "ProcessedClientActions": [
                    {
                        "ActionType": a.action_type,
                        "ActionStatus": int(a.status),
                        "ActionResult": a.result,
                        "Error": a.error,
                    }
                    for a in self.actions
                ],
                "Errors": list(self.errors) if self.errors else None,
            }
        )

    @classmethod
    def from_payload(cls, payload: bytes) -> HandshakeResponse:
        """Parse the JSON payload."""
        what = "HandshakeResponse"
        obj = load_json_object(payload, what)
        actions = tuple(
            ProcessedAction(
                action_type=field(item, "ActionType", str, what),
                status=field(item, "ActionStatus", int, what),
                result=item.get("ActionResult"),
                error=_text(item.get("Error")),
            )
            for item in _objects(obj.get("ProcessedClientActions"), what)
        )
        errors = obj.get("Errors")
        if errors is not None and not (
            isinstance(errors, list) and all(isinstance(e, str) for e in errors)
        ):
            raise InvalidPayload(f"{what}: Errors is not a list of strings")
        return cls(
            field(obj, "ClientVersion", str, what),
            actions,
            tuple(errors) if errors is not None else None,
        )


@dataclasses.dataclass(frozen=True)
class HandshakeComplete:
    """HandshakeComplete (agent -> client, PayloadType 7).

    A non-empty customer_message is shown to the user by the client.
    """

    time_to_complete_ns: int
    customer_message: str = ""

    def to_payload(self) -> bytes:
        """The JSON payload."""
        return dump_json(
            {
                "HandshakeTimeToComplete": self.time_to_complete_ns,
                "CustomerMessage": self.customer_message,
            }
        )

    @classmethod
    def from_payload(cls, payload: bytes) -> HandshakeComplete:
        """Parse the JSON payload."""
        what = "HandshakeComplete"
        obj = load_json_object(payload, what)
        message = obj.get("CustomerMessage")
        elapsed = obj.get("HandshakeTimeToComplete", 0)
        return cls(
            time_to_complete_ns=elapsed if isinstance(elapsed, int) else 0,
            customer_message=message if isinstance(message, str) else "",
        )


def _objects(value: object, what: str) -> list[Mapping[str, Any]]:
    if value is None:
        return []  # Go marshals an empty slice as null
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise InvalidPayload(f"{what}: expected a list of objects")
    return value


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
