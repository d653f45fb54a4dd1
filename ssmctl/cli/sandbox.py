"""`ssmctl sandbox`: a local emulated Session Manager region on loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ssmctl.cli.context import App
from ssmctl.cli.options import common_options
from ssmctl.cli.registry import exit_codes_epilog
from ssmctl.errors import ExitStatus, UsageError

F = TypeVar("F", bound=Callable[..., Any])

_NEEDS_EXTRA = "the sandbox needs the 'sandbox' extra: pip install 'ssmctl[sandbox]'"


@click.group(epilog=exit_codes_epilog())
def sandbox() -> None:
    """Run a local emulated Session Manager region (AWS APIs on loopback).

    The sandbox serves EC2, SSM (instances, sessions), resource groups, tagging, STS,
    IAM and CloudTrail lookups for a fleet described in a YAML file (a default fleet is
    built in). Nothing leaves the machine. See docs/sandbox.md.
    """


def _fleet_options(func: F) -> F:
    func = click.option(
        "--user", metavar="NAME", help="Whose access keys to use (default: the fleet's first user)."
    )(func)
    func = click.option(
        "--port",
        type=click.IntRange(0, 65535),
        default=0,
        show_default=True,
        help="Port for the AWS endpoint on 127.0.0.1 (0: any free port).",
    )(func)
    return click.option(
        "--fleet",
        metavar="FILE",
        type=click.Path(dir_okay=False),
        help="Fleet file (YAML) to seed the sandbox (default: the built-in fleet).",
    )(func)


def _no_aws_target(app: App) -> None:
    if app.flags.profile or app.flags.endpoint_url:
        raise UsageError("--profile and --endpoint-url do not apply to the sandbox")


@sandbox.command("up", epilog=exit_codes_epilog())
@_fleet_options
@common_options()
def up(app: App, fleet: str | None, port: int, user: str | None) -> None:
    """Start the sandbox and print the `export` lines that point ssmctl, boto3 and the
    AWS CLI at it; run until interrupted (Ctrl-C).

    \b
    Example:
      ssmctl sandbox up --port 4566      # in one terminal
      eval "$(ssmctl sandbox up ...)"    # or paste the printed lines in another
    """
    _no_aws_target(app)
    try:
        from ssmctl.sandbox import serve_forever
    except ImportError:
        raise UsageError(_NEEDS_EXTRA) from None
    serve_forever(fleet, port, user, app.stdout)


@sandbox.command(
    "run",
    epilog=exit_codes_epilog(),
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
)
@_fleet_options
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@common_options()
def run(app: App, fleet: str | None, port: int, user: str | None, command: tuple[str, ...]) -> int:
    """Start the sandbox, run COMMAND with the environment pointing at it, then stop.

    Exits with COMMAND's status. Put `--` before COMMAND; `ssmctl` in COMMAND is this
    installation of ssmctl even when it is not on PATH.

    \b
    Examples:
      ssmctl sandbox run -- ssmctl instances list
      ssmctl sandbox run -- aws ssm describe-instance-information
    """
    _no_aws_target(app)
    try:
        from ssmctl.sandbox import Sandbox, default_fleet, load_fleet
    except ImportError:
        raise UsageError(_NEEDS_EXTRA) from None
    seed = load_fleet(fleet) if fleet else default_fleet()
    with Sandbox(seed, port=port) as box:
        env = box.env(user, base=os.environ)
        # `ssmctl` in COMMAND means this installation, even when it is not on PATH.
        here = os.path.dirname(sys.argv[0]) if os.path.basename(sys.argv[0]) == "ssmctl" else ""
        env["PATH"] = os.pathsep.join(p for p in (here, env.get("PATH", "")) if p)
        try:
            completed = subprocess.run(list(command), env=env, check=False)
        except FileNotFoundError:
            raise UsageError(f"command not found: {command[0]}") from None
        except KeyboardInterrupt:
            return 130
    sys.stdout.flush()
    return completed.returncode if completed.returncode >= 0 else 128 - completed.returncode


@sandbox.command("demo", epilog=exit_codes_epilog())
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port for the AWS endpoint on 127.0.0.1 (0: any free port).",
)
@common_options()
def demo(app: App, port: int) -> int:
    """A guided tour: start the sandbox with the built-in fleet and run the real thing.

    Each step shows the ssmctl command it runs and what it printed: instances resolved
    by tag; a shell on web-1 through the native engine, with commands typed into it; a
    command's separate stdout and stderr and its exit status; a port forwarded to a web
    service and fetched through; the live session listed and terminated; the CloudTrail
    events and session records of it all; the shell's transcript from the session logs.

    Exits 0 only when every step worked (1 when one failed). Needs nothing but ssmctl
    with its 'sandbox' extra: no AWS account, no session-manager-plugin.
    """
    _no_aws_target(app)
    try:
        from ssmctl.sandbox import Sandbox, default_fleet
        from ssmctl.sandbox.demo import Demo
    except ImportError:
        raise UsageError(_NEEDS_EXTRA) from None
    width = shutil.get_terminal_size((100, 24)).columns
    try:
        with Sandbox(default_fleet(), port=port) as box:
            worked = Demo(box, app.stdout, color=app.settings.color, width=width).run()
    except KeyboardInterrupt:
        return int(ExitStatus.INTERRUPTED)
    return int(ExitStatus.OK if worked else ExitStatus.AWS_ERROR)
