"""Shared test fixtures: a hermetic environment and ways to run the CLI."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
FAKE_PLUGIN = ROOT / "tests" / "fakes" / "session-manager-plugin"


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No user config, colour, plugin or AWS profile from the machine running the tests."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    # Never ask an instance metadata service for credentials (slow, and not hermetic).
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # boto3.client() keeps one default session, and its credentials, for the process: a
    # test after a sandbox reseed (new keys) must not inherit the old ones.
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    for name in list(os.environ):
        if name.startswith("SSMCTL_") or name in ("NO_COLOR", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            monkeypatch.delenv(name)


@dataclasses.dataclass(frozen=True)
class Result:
    exit_code: int
    stdout: str
    stderr: str


RunCli = Callable[..., Result]


@pytest.fixture
def cli() -> RunCli:
    """Run `ssmctl ARGS` in this process (fast) with the real error handling of run()."""
    from ssmctl.cli.app import run

    def invoke(
        *args: str, input: str | None = None, env: Mapping[str, str] | None = None
    ) -> Result:
        runner = CliRunner()
        with runner.isolation(input=input, env=dict(env or {})) as (out, err, _):
            code = 0
            try:
                run(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            return Result(code, out.getvalue().decode(), err.getvalue().decode())

    return invoke


@pytest.fixture
def cli_process() -> RunCli:
    """Run `python -m ssmctl ARGS` as a real process (exit codes, fds, signals as users see)."""

    def invoke(
        *args: str,
        input: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
    ) -> Result:
        full_env = {**os.environ, **(env or {})}
        done = subprocess.run(
            [sys.executable, "-m", "ssmctl", *args],
            input=input,
            capture_output=True,
            text=True,
            env=full_env,
            timeout=timeout,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    return invoke


@pytest.fixture
def fake_plugin(tmp_path: Path) -> dict[str, str]:
    """Environment that makes ssmctl use the fake plugin and record what it saw."""
    record = tmp_path / "plugin-record.json"
    return {"SSMCTL_PLUGIN": str(FAKE_PLUGIN), "FAKE_PLUGIN_RECORD": str(record)}
