"""Help text, the generated CLI reference, the fast path, and the common options."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from ssmctl.cli.app import cli as root
from ssmctl.cli.registry import EXIT_CODES

ROOT = Path(__file__).resolve().parents[2]
COMMON = {
    "--profile",
    "--region",
    "--endpoint-url",
    "--output",
    "--config",
    "--no-color",
    "--debug",
}


def _gen_docs() -> object:
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _leaf_commands() -> list[tuple[str, click.Command]]:
    ctx = click.Context(root)
    out: list[tuple[str, click.Command]] = []

    def walk(group: click.Group, prefix: str) -> None:
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            assert command is not None
            if isinstance(command, click.Group):
                walk(command, f"{prefix}{name} ")
            else:
                out.append((f"{prefix}{name}", command))

    walk(root, "")
    return out


def test_cli_reference_and_static_help_are_fresh() -> None:
    gen = _gen_docs()
    stale = [
        path
        for path, text in {
            gen.CLI_DOC: gen.render_cli_doc(),  # type: ignore[attr-defined]
            gen.STATIC_HELP: gen.render_static_help(),  # type: ignore[attr-defined]
        }.items()
        if path.read_text() != text
    ]
    assert not stale, f"run: python scripts/gen_docs.py (stale: {stale})"


@pytest.mark.parametrize(("name", "command"), _leaf_commands())
def test_every_command_is_documented_and_takes_the_common_options(
    name: str, command: click.Command
) -> None:
    assert command.help and len(command.help.strip()) > 20, name
    assert command.epilog and "Exit codes:" in command.epilog
    options = {opt for param in command.params for opt in param.opts}
    assert options >= COMMON, f"{name} lacks {COMMON - options}"
    assert f"`ssmctl {name}`" in (ROOT / "docs" / "cli.md").read_text()


def test_exit_codes_doc_matches_the_code() -> None:
    text = (ROOT / "docs" / "exit-codes.md").read_text()
    for code, _ in EXIT_CODES:
        assert f"| {code} |" in text


def _run(*args: str, columns: str) -> str:
    env = {**os.environ, "COLUMNS": columns}
    done = subprocess.run(
        [sys.executable, "-m", "ssmctl", *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout


def test_fast_help_is_clicks_help() -> None:
    from click.testing import CliRunner

    clicks = CliRunner().invoke(root, ["--help"], prog_name="ssmctl", env={"COLUMNS": "80"})
    assert _run("--help", columns="120") == clicks.output
    assert _run("-h", columns="80") == clicks.output
    # Narrower terminals get Click's own rendering at their width.
    narrow = _run("--help", columns="60")
    assert narrow != clicks.output and "Usage: ssmctl [OPTIONS] COMMAND" in narrow


def test_version() -> None:
    from ssmctl import __version__

    assert _run("--version", columns="80") == f"ssmctl {__version__}\n"
