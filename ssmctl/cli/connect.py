"""`ssmctl connect`: a session on one instance, through the official plugin or natively."""

from __future__ import annotations

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
from ssmctl.config import Alias
from ssmctl.errors import UsageError


def parse_parameters(values: tuple[str, ...]) -> dict[str, list[str]]:
    """`key=value` options -> {key: [values]}; a repeated key collects its values."""
    out: dict[str, list[str]] = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"malformed parameter {value!r}: expected key=value")
        out.setdefault(key.strip(), []).append(text)
    return out


@click.command(epilog=exit_codes_epilog())
@click.argument("target", required=False, shell_complete=complete_target)
@target_options
@choice_options
@click.option(
    "--document", metavar="NAME", help="Session document (default: the shell preferences)."
)
@click.option(
    "--parameter",
    "parameters",
    metavar="KEY=VALUE",
    multiple=True,
    help="Document parameter; repeat for several (a repeated key makes a list).",
)
@click.option(
    "--reason",
    metavar="TEXT",
    help="Why you connect (1-256 chars; in DescribeSessions and CloudTrail).",
)
@startup_timeout_option
@engine_option
@common_options()
def connect(
    app: App,
    target: str | None,
    tags: tuple[str, ...],
    group: str | None,
    pick: bool,
    first: bool,
    document: str | None,
    parameters: tuple[str, ...],
    reason: str | None,
    startup_timeout: float | None,
    engine: str | None,
) -> int:
    """Open a session on one instance (a shell, or the document you name).

    TARGET is an instance id, Name glob, Key=Value, IP, DNS name or @alias. Several
    matches fail (exit 3) with the candidates listed, unless --pick or --first.

    With the official session-manager-plugin (found via SSMCTL_PLUGIN, the config file,
    PATH, or its standard install locations) the session token is handed over in the
    environment, never on the command line, and ssmctl exits with the plugin's status.
    With the native engine (--engine native, or auto without a plugin) ssmctl carries
    the session itself: the terminal in raw mode, resumed after a dropped connection,
    exit 0 when the session ends. KMS-encrypted sessions need the plugin.
    """
    from ssmctl.connect import run_session
    from ssmctl.sessions import start_request

    if target is None and not tags and not group:
        raise UsageError("give a TARGET, --tag or --group")
    spec, alias = target_spec(app, target, tags, group)
    doc, merged, why = _session_defaults(app, alias, document)
    merged.update(parse_parameters(parameters))
    why = reason or why

    app.settings  # noqa: B018 - bad flags, environment or config fail before anything runs
    # Choose the engine first: a missing or outdated plugin must not leave a session behind.
    chosen = pick_engine(app, engine)
    timeout = startup_timeout_value(app, startup_timeout)
    instance, aws = resolve_one(app, spec, pick=pick, first=first)
    request = start_request(instance.instance_id, document=doc, parameters=merged, reason=why)
    label = f"{instance.instance_id} ({instance.name})" if instance.name else instance.instance_id
    app.notice(f"Connecting to {label} in {instance.region}...")
    return run_session(
        aws, instance.region, request, chosen, startup_timeout=timeout, notice=app.notice
    )


def _session_defaults(
    app: App, alias: Alias | None, document: str | None
) -> tuple[str | None, dict[str, list[str]], str | None]:
    """Document, parameters and reason from the config file, then the alias, then
    --document. Parameters belong to their document: naming another document drops
    the ones inherited so far."""
    config = app.config
    doc, params, why = config.document, dict(config.parameters), config.reason
    if alias is not None:
        if alias.document and alias.document != doc:
            params = {}
        doc = alias.document or doc
        params.update(alias.parameters)
        why = alias.reason or why
    if document and document != doc:
        params = {}
    return document or doc, params, why
