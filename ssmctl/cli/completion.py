"""`ssmctl completion SHELL`, and answering the shell when it asks for completions."""

from __future__ import annotations

import os
import sys

import click

from ssmctl.cli.context import App
from ssmctl.cli.options import common_options
from ssmctl.cli.registry import exit_codes_epilog

COMPLETE_VAR = "_SSMCTL_COMPLETE"
SHELLS = ("bash", "zsh", "fish")


@click.command(epilog=exit_codes_epilog())
@click.argument("shell", type=click.Choice(SHELLS))
@common_options()
def completion(app: App, shell: str) -> None:
    """Print the completion script for SHELL (bash, zsh or fish).

    \b
    bash: echo 'eval "$(ssmctl completion bash)"' >> ~/.bashrc
    zsh:  echo 'eval "$(ssmctl completion zsh)"' >> ~/.zshrc   (after compinit)
    fish: ssmctl completion fish > ~/.config/fish/completions/ssmctl.fish

    Commands, options, @aliases, instance names and ids, and session ids complete;
    AWS answers are cached for 30-60 s under $XDG_CACHE_HOME/ssmctl. The common
    options are accepted and ignored. See docs/completion.md.
    """
    from click.shell_completion import get_completion_class

    from ssmctl.cli.app import cli

    shell_class = get_completion_class(shell)
    assert shell_class is not None  # every choice is one of Click's shells
    app.stdout.write(shell_class(cli, {}, "ssmctl", COMPLETE_VAR).source())
    app.stdout.flush()


def answer_shell() -> None:
    """Answer `_SSMCTL_COMPLETE=<shell>_<complete|source> ssmctl` and exit.

    Whatever goes wrong, nothing reaches the shell but the completions: stderr is
    silenced and an error means no completions.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        from click.shell_completion import shell_complete

        from ssmctl.cli.app import cli

        status = shell_complete(cli, {}, "ssmctl", COMPLETE_VAR, os.environ[COMPLETE_VAR])
    except Exception:
        status = 1
    sys.exit(status)
