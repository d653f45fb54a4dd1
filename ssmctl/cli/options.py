"""Shared option decorators: every command accepts the common options after its name."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ssmctl.cli.context import App
from ssmctl.settings import Flags

F = TypeVar("F", bound=Callable[..., Any])

_COMMON = (
    "profile",
    "region",
    "all_regions",
    "endpoint_url",
    "output",
    "config",
    "no_color",
    "debug",
)


def common_options(*, fan_out: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add --profile, --region, --endpoint-url, --output, --config, --no-color, --debug.

    `fan_out` commands take several regions (`--region a,b`, repeatable) and
    `--all-regions`. The wrapped function receives an `App` as its first argument.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def wrapper(**kwargs: Any) -> Any:
            values = {name: kwargs.pop(name, None) for name in _COMMON}
            flags = Flags(
                profile=values["profile"],
                regions=tuple(values["region"] or ()),
                all_regions=bool(values["all_regions"]),
                endpoint_url=values["endpoint_url"],
                output=values["output"],
                config=values["config"],
                no_color=bool(values["no_color"]),
                debug=bool(values["debug"]),
            )
            return func(App(flags, fan_out=fan_out), **kwargs)

        options = [
            click.option(
                "--profile",
                metavar="NAME",
                help="AWS profile (else AWS_PROFILE, then the config file).",
            ),
            click.option(
                "--region",
                metavar="REGION",
                multiple=True,
                help=(
                    "AWS region(s): 'a,b' or repeat the option "
                    "(else AWS_REGION, the config file, the profile)."
                    if fan_out
                    else "AWS region (else AWS_REGION, the config file, the profile)."
                ),
            ),
        ]
        if fan_out:
            options.append(
                click.option(
                    "--all-regions",
                    is_flag=True,
                    help="Every region enabled for the account (discovered, not a fixed list).",
                )
            )
        options += [
            click.option(
                "--endpoint-url",
                metavar="URL",
                help="AWS endpoint, e.g. the sandbox (else AWS_ENDPOINT_URL, the config file).",
            ),
            click.option(
                "--output",
                "-o",
                type=click.Choice(["table", "json", "jsonl", "yaml", "csv", "text"]),
                help=(
                    "Output format (default: table on a terminal, json when piped; SSMCTL_OUTPUT)."
                ),
            ),
            click.option(
                "--config",
                metavar="PATH",
                help="Config file (else SSMCTL_CONFIG, else ~/.config/ssmctl/config.yaml).",
            ),
            click.option("--no-color", is_flag=True, help="No colour (also NO_COLOR)."),
            click.option(
                "--debug",
                is_flag=True,
                help="Log each AWS call on stderr; show tracebacks on errors.",
            ),
        ]
        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper

    return decorate


def target_options(func: F) -> F:
    """--tag (repeatable) and --group, to select instances alongside a positional target."""
    func = click.option(
        "--group",
        metavar="NAME",
        help="Instances in this resource group (tag-query or CloudFormation stack group).",
    )(func)
    return click.option(
        "--tag",
        "tags",
        metavar="KEY=VALUE",
        multiple=True,
        help="Match a tag; values may use * and ?. Repeat to require several (ANDed).",
    )(func)


def choice_options(func: F) -> F:
    """--pick / --first: how a single-target command settles several matches."""
    func = click.option(
        "--first",
        is_flag=True,
        help="Take the first match (online ones first) when the target matches several.",
    )(func)
    return click.option(
        "--pick",
        is_flag=True,
        help="Choose interactively (type to filter) when the target matches several.",
    )(func)


def engine_option(func: F) -> F:
    """--engine auto|native|plugin, for commands that carry a session."""
    return click.option(
        "--engine",
        type=click.Choice(["auto", "native", "plugin"]),
        help=(
            "How the session is carried: plugin (the official session-manager-plugin), "
            "native (ssmctl's own client), or auto: the plugin when installed, else native "
            "(SSMCTL_ENGINE; config connect.engine; default auto)."
        ),
    )(func)


def startup_timeout_option(func: F) -> F:
    """--startup-timeout SECONDS, for commands that carry a session."""
    return click.option(
        "--startup-timeout",
        type=click.FloatRange(min=0),
        metavar="SECONDS",
        help=(
            "Stop and terminate the session if it has not started by then "
            "(0: wait; default 30; config plugin.startup_timeout)."
        ),
    )(func)
