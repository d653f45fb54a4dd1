"""`ssmctl forward` (a local port to a port on or behind an instance) and `ssmctl proxy`
(stdin/stdout to a port on an instance, for ssh's ProxyCommand)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import click

from ssmctl.cli.completers import complete_target
from ssmctl.cli.context import App
from ssmctl.cli.engine import pick_engine, startup_timeout_value
from ssmctl.cli.options import (
    choice_options,
    common_options,
    engine_option,
    startup_timeout_option,
    target_options,
)
from ssmctl.cli.registry import exit_codes_epilog
from ssmctl.cli.targeting import resolve_one, target_spec
from ssmctl.errors import SessionError, UsageError
from ssmctl.sanitize import json_dumps, terminal_safe

if TYPE_CHECKING:
    from ssmctl.engines.native import Listening

_REASON = click.option(
    "--reason",
    metavar="TEXT",
    help="Why (1-256 chars; in DescribeSessions and CloudTrail).",
)


@click.command(epilog=exit_codes_epilog())
@click.argument("target", required=False, shell_complete=complete_target)
@target_options
@choice_options
@click.option(
    "--remote",
    "remote_port",
    type=click.IntRange(1, 65535),
    required=True,
    metavar="PORT",
    help="The port to reach: on the instance, or on --host.",
)
@click.option(
    "--local",
    "local_port",
    type=click.IntRange(0, 65535),
    default=0,
    metavar="PORT",
    help="The local port on 127.0.0.1 (default: any free one).",
)
@click.option(
    "--host",
    metavar="HOST",
    help="Reach HOST:PORT from the instance instead (an RDS endpoint, a private service).",
)
@_REASON
@startup_timeout_option
@engine_option
@common_options()
def forward(
    app: App,
    target: str | None,
    tags: tuple[str, ...],
    group: str | None,
    pick: bool,
    first: bool,
    remote_port: int,
    local_port: int,
    host: str | None,
    reason: str | None,
    startup_timeout: float | None,
    engine: str | None,
) -> int:
    """Forward a local port to a port on an instance, or on a host it can reach.

    \b
      ssmctl forward db-1 --remote 5432 --local 15432
      ssmctl forward bastion --host mydb.cluster-xyz.eu-west-1.rds.amazonaws.com --remote 5432

    As soon as the port listens ssmctl prints `Forwarding 127.0.0.1:PORT -> TARGET:PORT`
    (with --output json, or when stdout is not a terminal: one JSON object with
    local_host, local_port, target, instance_id, remote_host, remote_port, session_id,
    mode). With the native engine every local connection is served at once (one at a
    time with agents up to 3.0.196.0). Ctrl-C ends the session and exits 0.

    Uses AWS-StartPortForwardingSession, or AWS-StartPortForwardingSessionToRemoteHost
    with --host. With the session-manager-plugin (--engine plugin, or auto when it is
    installed) the plugin listens and prints its own `Port N opened` line instead.
    """
    from ssmctl.connect import run_session
    from ssmctl.engines.choice import EngineKind
    from ssmctl.forwarding import Forward

    if target is None and not tags and not group:
        raise UsageError("give a TARGET, --tag or --group")
    spec, _ = target_spec(app, target, tags, group)
    app.settings  # noqa: B018 - bad flags, environment or config fail before anything runs
    chosen = pick_engine(app, engine)
    timeout = startup_timeout_value(app, startup_timeout)
    instance, aws = resolve_one(app, spec, pick=pick, first=first)
    plan = Forward(remote_port, local_port, host)
    listener = None
    if chosen.kind is EngineKind.NATIVE:
        # Bind before the session exists: a busy port must not leave a session behind.
        from ssmctl.engines.native import listen_socket

        try:
            listener = listen_socket(local_port)
        except SessionError as exc:
            raise UsageError(f"{exc.message} (choose another --local port)") from None
        plan = dataclasses.replace(plan, local_port=listener.getsockname()[1])
    destination = plan.destination(instance.name or instance.instance_id)
    request = plan.request(instance.instance_id, reason=reason)

    def listening(ready: Listening) -> None:
        if app.settings.output in ("json", "jsonl", "yaml"):
            record = {
                "local_host": ready.host,
                "local_port": ready.port,
                "target": instance.name or instance.instance_id,
                "instance_id": instance.instance_id,
                "remote_host": host,
                "remote_port": remote_port,
                "session_id": ready.session_id,
                "mode": ready.mode,
            }
            app.stdout.write(json_dumps(record) + "\n")
        else:
            app.stdout.write(
                f"Forwarding {ready.host}:{ready.port} -> {terminal_safe(destination)} "
                f"(session {ready.session_id}; Ctrl-C to stop)\n"
            )
        app.stdout.flush()

    if chosen.kind is EngineKind.PLUGIN:
        app.notice(f"Forwarding to {destination} via the session-manager-plugin...")
    return run_session(
        aws,
        instance.region,
        request,
        chosen,
        startup_timeout=timeout,
        notice=app.notice,
        listener=listener,
        on_listening=listening,
    )


@click.command(epilog=exit_codes_epilog())
@click.argument("target", shell_complete=complete_target)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=22,
    show_default=True,
    help="The port on the instance (its SSH server).",
)
@_REASON
@startup_timeout_option
@engine_option
@common_options()
def proxy(
    app: App,
    target: str,
    port: int,
    reason: str | None,
    startup_timeout: float | None,
    engine: str | None,
) -> int:
    """Carry stdin/stdout to PORT on an instance: ssh's ProxyCommand.

    \b
      ssh -o ProxyCommand='ssmctl proxy %h --port %p' ec2-user@i-0123456789abcdef0
      ssmctl ssh-config --tag Env=dev >> ~/.ssh/config   # then: ssh web-1, scp, rsync

    stdout carries only the forwarded bytes; diagnostics go to stderr. TARGET must
    match one instance (exit 3 otherwise). Uses AWS-StartSSHSession; the session ends
    when the far end closes the connection or ssmctl is stopped (ssh stops it when done).
    """
    from ssmctl.connect import run_session
    from ssmctl.forwarding import proxy_request

    spec, _ = target_spec(app, target, (), None)
    app.settings  # noqa: B018 - bad flags, environment or config fail before anything runs
    chosen = pick_engine(app, engine)
    timeout = startup_timeout_value(app, startup_timeout)
    instance, aws = resolve_one(app, spec, pick=False, first=False)
    request = proxy_request(instance.instance_id, port, reason=reason)
    return run_session(
        aws, instance.region, request, chosen, startup_timeout=timeout, notice=app.notice
    )
