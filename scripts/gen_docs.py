"""Generate docs/cli.md and ssmctl/cli/static_help.py from the CLI's own --help.

python scripts/gen_docs.py          # write the files
python scripts/gen_docs.py --check  # exit 1 if they are stale (CI runs this via a test)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import click
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
CLI_DOC = ROOT / "docs" / "cli.md"
STATIC_HELP = ROOT / "ssmctl" / "cli" / "static_help.py"


def help_text(path: list[str]) -> str:
    from ssmctl.cli.app import cli

    result = CliRunner().invoke(
        cli, [*path, "--help"], prog_name="ssmctl", env={"COLUMNS": "80"}, catch_exceptions=False
    )
    if result.exit_code != 0:
        raise SystemExit(f"ssmctl {' '.join(path)} --help failed: {result.output}")
    return result.output


def command_paths() -> list[list[str]]:
    from ssmctl.cli.app import cli

    paths: list[list[str]] = [[]]
    ctx = click.Context(cli)

    def walk(group: click.Group, prefix: list[str]) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            paths.append([*prefix, name])
            if isinstance(command, click.Group):
                walk(command, [*prefix, name])

    walk(cli, [])
    return paths


def render_cli_doc() -> str:
    parts = [
        "# CLI reference\n\n",
        "Generated from `--help` by `scripts/gen_docs.py`; a test fails when it is stale.\n",
    ]
    for path in command_paths():
        title = " ".join(["ssmctl", *path])
        parts.append(f"\n## `{title}`\n\n```text\n{help_text(path)}```\n")
    return "".join(parts)


def render_static_help() -> str:
    text = help_text([])
    return (
        '"""Click\'s rendering of `ssmctl --help` at 80 columns (scripts/gen_docs.py)."""\n\n'
        f"ROOT_HELP = {text!r}\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    args = parser.parse_args()
    wanted = {CLI_DOC: render_cli_doc(), STATIC_HELP: render_static_help()}
    stale = [p for p, text in wanted.items() if not p.exists() or p.read_text() != text]
    if args.check:
        for path in stale:
            print(f"stale: {path.relative_to(ROOT)} (run: python scripts/gen_docs.py)")
        return 1 if stale else 0
    for path, text in wanted.items():
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
