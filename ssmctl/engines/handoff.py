"""The plugin's command-line contract (docs/protocol.md section 1): argv and environment.

argv = [plugin, response-or-env-name, region, "StartSession", profile-or-"",
        json(request), endpoint]

The session token travels in the environment variable AWS_SSM_START_SESSION_RESPONSE for
plugins newer than 1.2.497.0 and only in argv (visible in `ps`) for older ones. Nothing
here ever puts the token into a message, a repr or an exception.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from ssmctl.engines.versions import Version, uses_env_handoff
from ssmctl.errors import PluginError

RESPONSE_ENV_VAR = "AWS_SSM_START_SESSION_RESPONSE"
_RESPONSE_KEYS = ("SessionId", "TokenValue", "StreamUrl")


@dataclasses.dataclass(frozen=True, repr=False)
class PluginCommand:
    """What to execute: the argv and the complete environment of the plugin process."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    session_id: str
    token_in_argv: bool
    """True for old plugins: the token is argv[1] and anyone running `ps` can read it."""

    def __repr__(self) -> str:
        # The default repr would show the token (argv or env); keep it out of logs.
        return f"PluginCommand(plugin={self.argv[0]!r}, session_id={self.session_id!r})"


def build_command(
    plugin_path: str,
    plugin_version: Version,
    response: Mapping[str, Any],
    request: Mapping[str, Any],
    *,
    region: str,
    profile: str | None,
    endpoint_url: str,
    base_env: Mapping[str, str],
) -> PluginCommand:
    """The plugin invocation for a session started with `request` that returned `response`.

    `profile` is passed only when the user chose one explicitly (else ""); `base_env` is
    the environment the plugin inherits. Raises PluginError when `request` has no string
    Target or `response` lacks SessionId/TokenValue/StreamUrl (the plugin would crash).
    """
    target = request.get("Target")
    if not isinstance(target, str) or not target:
        raise PluginError("the StartSession request has no Target; the plugin cannot run")
    missing = [k for k in _RESPONSE_KEYS if not isinstance(response.get(k), str)]
    if missing:
        raise PluginError(f"the StartSession response lacks {', '.join(missing)}")
    payload = json.dumps({key: response[key] for key in _RESPONSE_KEYS})
    env = dict(base_env)
    if uses_env_handoff(plugin_version):
        env[RESPONSE_ENV_VAR] = payload
        first = RESPONSE_ENV_VAR
    else:
        # An old plugin would not read the variable; do not leave a stale one around.
        env.pop(RESPONSE_ENV_VAR, None)
        first = payload
    argv = (
        plugin_path,
        first,
        region,
        "StartSession",
        profile or "",
        json.dumps(dict(request)),
        endpoint_url,
    )
    return PluginCommand(
        argv=argv,
        env=env,
        session_id=str(response["SessionId"]),
        token_in_argv=first != RESPONSE_ENV_VAR,
    )


def client_region_endpoint(ssm_client: Any) -> tuple[str, str]:
    """(region, endpoint URL) of a boto3 SSM client: what the plugin must use for its own
    ResumeSession/TerminateSession calls so they reach the same place as StartSession."""
    return str(ssm_client.meta.region_name), str(ssm_client.meta.endpoint_url)
