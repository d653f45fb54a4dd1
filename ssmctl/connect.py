"""Start a session and hand it to the official session-manager-plugin."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ssmctl.aws import AwsContext, translate
from ssmctl.sessions import start_session, terminate_session

DEFAULT_STARTUP_TIMEOUT = 30.0


def connect_with_plugin(
    aws: AwsContext,
    region: str,
    request: Mapping[str, Any],
    plugin: Any,
    *,
    startup_timeout: float,
    notice: Callable[[str], None],
) -> int:
    """StartSession, then run the plugin on it; returns the plugin's exit status.

    `plugin` is an `ssmctl.engines.plugin.Plugin` found and version-checked before this
    call, so a missing or outdated plugin never leaves a session behind. From here on
    every failure path terminates the session (see `run_plugin`).
    """
    from ssmctl.engines.handoff import client_region_endpoint
    from ssmctl.engines.plugin import run_plugin

    ssm = aws.client("ssm", region)
    response = start_session(ssm, request)
    session_id = response["SessionId"]

    def terminate() -> None:
        try:
            terminate_session(ssm, session_id)
        except Exception as exc:
            error = translate(exc)
            if error is None:
                raise
            raise error from None

    client_region, endpoint = client_region_endpoint(ssm)
    return run_plugin(
        plugin,
        response,
        request,
        region=client_region,
        profile=aws.profile,
        endpoint_url=endpoint,
        terminate=terminate,
        notice=notice,
        startup_timeout=startup_timeout,
    )
