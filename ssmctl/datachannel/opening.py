"""The OpenDataChannel request: the first (TEXT) WebSocket frame a client sends.

The client keeps one ClientId for its whole run and sends a new RequestId on every
connect; on a reconnect (after ResumeSession) it carries the new token.
"""

from __future__ import annotations

import dataclasses
import uuid

from ssmctl.datachannel.errors import InvalidPayload
from ssmctl.datachannel.payloads import dump_json, field, load_json_object

MESSAGE_SCHEMA_VERSION = "1.0"


def new_client_id() -> str:
    """A ClientId for one client run (keep it across reconnects)."""
    return str(uuid.uuid4())


@dataclasses.dataclass(frozen=True)
class OpenDataChannel:
    """The JSON of the first TEXT frame of every data-channel connection."""

    token_value: str
    client_id: str
    client_version: str
    request_id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    message_schema_version: str = MESSAGE_SCHEMA_VERSION

    def to_json(self) -> str:
        """The text frame, keys in the plugin's order."""
        return dump_json(
            {
                "MessageSchemaVersion": self.message_schema_version,
                "RequestId": self.request_id,
                "TokenValue": self.token_value,
                "ClientId": self.client_id,
                "ClientVersion": self.client_version,
            }
        ).decode("utf-8")

    @classmethod
    def from_json(cls, text: str | bytes) -> OpenDataChannel:
        """Parse the first frame (server side). InvalidPayload when a field is missing."""
        what = "OpenDataChannel request"
        obj = load_json_object(text, what)
        token = field(obj, "TokenValue", str, what)
        if not token:
            raise InvalidPayload(f"{what}: TokenValue is empty")
        return cls(
            token_value=token,
            client_id=field(obj, "ClientId", str, what),
            client_version=_optional_text(obj.get("ClientVersion")),
            request_id=_optional_text(obj.get("RequestId")),
            message_schema_version=_optional_text(obj.get("MessageSchemaVersion")),
        )


def _optional_text(value: object) -> str:
    return value if isinstance(value, str) else ""
