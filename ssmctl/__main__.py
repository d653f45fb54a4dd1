"""Entry point for `ssmctl` and `python -m ssmctl`."""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Run the CLI. `--version` and the top-level `--help` are answered without Click."""
    if "_SSMCTL_COMPLETE" in os.environ:
        from ssmctl.cli.completion import answer_shell

        answer_shell()
    from ssmctl.cli.fastpath import answer_without_click

    if answer_without_click(sys.argv[1:]):
        return
    from ssmctl.cli.app import run

    run()


if __name__ == "__main__":
    main()
