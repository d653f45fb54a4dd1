"""Answer `ssmctl --version` and `ssmctl --help` without importing Click.

Importing Click costs several times Python's own start-up on small machines; these two
answers are on every user's first contact and in shell completion loops. The help text
is Click's own rendering, generated into static_help.py by scripts/gen_docs.py; a test
fails when it differs from what Click prints.
"""

from __future__ import annotations

import os
import sys

# Click renders help at min(terminal width, 80) - 2 columns; the stored copy is that of
# an 80-column (or wider, or non-terminal) output.
_HELP_COLUMNS = 80


def answer_without_click(argv: list[str]) -> bool:
    """Print the answer and return True if `argv` is `--version` or `--help` alone."""
    if argv == ["--version"]:
        from ssmctl import __version__

        sys.stdout.write(f"ssmctl {__version__}\n")
        return True
    if argv in (["--help"], ["-h"]) and _columns() >= _HELP_COLUMNS:
        from ssmctl.cli.static_help import ROOT_HELP

        sys.stdout.write(ROOT_HELP)
        return True
    return False


def _columns() -> int:
    # The same order as shutil.get_terminal_size(), which Click uses.
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns > 0:
        return columns
    try:
        return os.get_terminal_size(sys.__stdout__.fileno() if sys.__stdout__ else 1).columns
    except (OSError, ValueError, AttributeError):
        return _HELP_COLUMNS
