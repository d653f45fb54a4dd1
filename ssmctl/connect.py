"""Start a session and carry it: with the official session-manager-plugin, or natively."""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ssmctl.aws import AwsContext, translate
from ssmctl.engines.choice import EngineChoice, EngineKind
from ssmctl.sessions import start_session, terminate_session

if TYPE_CHECKING:
    from ssmctl.engines.native import Listening

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


def connect_native(
    aws: AwsContext,
    region: str,
    request: Mapping[str, Any],
    *,
    startup_timeout: float,
    notice: Callable[[str], None],
    stdin: bool = True,
    listener: socket.socket | None = None,
    on_listening: Callable[[Listening], None] | None = None,
) -> int:
    """StartSession, then carry it with the native engine; returns ssmctl's exit status.

    `stdin`: forward the user's input (False: none). `listener`: for port forwarding, a
    socket bound before the session started (see forwarding.py). The session is
    terminated on every path but a normal end (see NativeSession.run).
    """
    from ssmctl.engines.native import run_native

    ssm = aws.client("ssm", region)
    response = start_session(ssm, request)
    return run_native(
        ssm,
        response,
        notice=notice,
        startup_timeout=startup_timeout,
        stdio=(0 if stdin else None, 1, 2),
        listener=listener,
        on_listening=on_listening,
    )


def run_session(
    aws: AwsContext,
    region: str,
    request: Mapping[str, Any],
    engine: EngineChoice,
    *,
    startup_timeout: float,
    notice: Callable[[str], None],
    listener: socket.socket | None = None,
    on_listening: Callable[[Listening], None] | None = None,
) -> int:
    """Start the session of `request` and carry it with the chosen engine."""
    if engine.kind is EngineKind.PLUGIN:
        if listener is not None:
            listener.close()  # the plugin binds the port itself
        return connect_with_plugin(
            aws, region, request, engine.plugin, startup_timeout=startup_timeout, notice=notice
        )
    return connect_native(
        aws,
        region,
        request,
        startup_timeout=startup_timeout,
        notice=notice,
        listener=listener,
        on_listening=on_listening,
    )
