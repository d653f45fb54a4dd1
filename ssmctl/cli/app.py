"""The root `ssmctl` group, with commands loaded on first use, and `run()`."""

from __future__ import annotations

import importlib
import os
import sys

import click

from ssmctl import __version__
from ssmctl.cli.registry import COMMANDS, exit_codes_epilog
from ssmctl.errors import ExitStatus

HELP = """Reach instances through AWS Systems Manager Session Manager: no SSH keys, no
bastions, no open ports. Connect by id, Name, tag, resource group, IP, DNS or @alias;
list and end live sessions across regions.

Every command takes the common options after its name (--profile, --region,
--endpoint-url, --output, --config, --no-color, --debug). Try it locally first:
`ssmctl sandbox up` starts an emulated region on loopback."""


class ReaderGone(Exception):
    """Stdout's reader went away. Not an OSError: Click would turn EPIPE into status 1."""


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when one is run."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise ReaderGone from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module, attribute, _ = entry
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Short help comes from the registry, so `ssmctl --help` imports no command.
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    help=HELP,
    epilog=exit_codes_epilog(),
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, "--version", prog_name="ssmctl", message="%(prog)s %(version)s")
def cli() -> None:
    """The ssmctl root group."""


def run(argv: list[str] | None = None) -> None:
    """Run the CLI and exit with the documented status.

    Errors never show a traceback unless --debug (or SSMCTL_DEBUG) is set. A command may
    return an int: it becomes the exit status (connect returns the plugin's).
    """
    from ssmctl.cli.context import App
    from ssmctl.cli.errors import report

    args = sys.argv[1:] if argv is None else argv
    try:
        result = cli.main(args=args, prog_name="ssmctl", standalone_mode=False)
        _flush()
    except (BrokenPipeError, ReaderGone):
        _silence_stdout()
        sys.exit(ExitStatus.READER_GONE)  # 128 + SIGPIPE, as the signal would give
    except BaseException as exc:
        if isinstance(exc, SystemExit):
            raise
        app = App.current
        debug = (app.debug if app else False) or "--debug" in args or _env_debug()
        code = report(exc, debug=debug)
        sys.exit(code)
    sys.exit(result if isinstance(result, int) else 0)


def _env_debug() -> bool:
    return os.environ.get("SSMCTL_DEBUG", "").lower() in ("1", "true", "yes", "on")


def _flush() -> None:
    sys.stdout.flush()


def _silence_stdout() -> None:
    # `ssmctl ... | head`: the reader left; say nothing, and stop Python's exit-time
    # flush from raising again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
