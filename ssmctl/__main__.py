"""Entry point for `ssmctl` and `python -m ssmctl`."""

from __future__ import annotations

import sys


def main() -> None:
    """Run the CLI. `--version` and the top-level `--help` are answered without Click."""
    from ssmctl.cli.fastpath import answer_without_click

    if answer_without_click(sys.argv[1:]):
        return
    from ssmctl.cli.app import run

    run()


if __name__ == "__main__":
    main()
