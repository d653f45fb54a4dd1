"""--engine auto: the official plugin when one is installed, else the native engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ssmctl.engines.discovery import POSIX_LOCATIONS
from tests.conftest import RunCli
from tests.e2e.conftest import Sessions


def test_auto_without_a_plugin_uses_the_native_engine(
    cli_process: RunCli, sessions: Sessions, tmp_path: Path
) -> None:
    if any(Path(p).exists() for p in POSIX_LOCATIONS):
        pytest.skip("a session-manager-plugin is installed in a standard location")
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    result = cli_process("connect", "web-1", input="echo native-$((1+1))\n", env=env)
    assert result.exit_code == 0, result.stderr
    assert "native-2" in result.stdout
    notices = [line for line in result.stderr.splitlines() if "native engine" in line]
    assert notices == [
        "ssmctl: using the native engine (session-manager-plugin not found "
        f"(looked in PATH, {', '.join(str(Path(p).parent) for p in POSIX_LOCATIONS)}))"
    ]


def test_auto_with_a_plugin_uses_it(
    cli_process: RunCli, sessions: Sessions, fake_plugin: dict[str, str]
) -> None:
    env = {**fake_plugin, "FAKE_PLUGIN_OUTPUT": "from the plugin"}
    result = cli_process("connect", "web-1", env=env)
    assert result.exit_code == 0, result.stderr
    assert "from the plugin" in result.stdout
    assert "native engine" not in result.stderr
    assert json.loads(Path(fake_plugin["FAKE_PLUGIN_RECORD"]).read_text())["args"]
    [session_id] = sessions.new()
    assert sessions.record(session_id).status == "Connecting"  # the fake never dialled


def test_config_and_environment_choose_too(
    cli_process: RunCli, sessions: Sessions, fake_plugin: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("connect:\n  engine: native\n")
    env = {**fake_plugin, "SSMCTL_CONFIG": str(config)}
    result = cli_process("connect", "web-1", input="echo from-config\n", env=env)
    assert result.exit_code == 0, result.stderr
    assert "from-config" in result.stdout  # the native engine, though a plugin is there
    result = cli_process("connect", "web-1", env={**env, "SSMCTL_ENGINE": "plugin"})
    assert result.exit_code == 0 and Path(fake_plugin["FAKE_PLUGIN_RECORD"]).exists()
    result = cli_process("connect", "web-1", env={**env, "SSMCTL_ENGINE": "warp"})
    assert result.exit_code == 2 and "unknown engine 'warp'" in result.stderr


def test_explicit_plugin_engine_without_a_plugin_fails_before_any_session(
    cli_process: RunCli, sessions: Sessions, tmp_path: Path
) -> None:
    env = {"SSMCTL_PLUGIN": str(tmp_path / "missing")}
    result = cli_process("forward", "db-1", "--remote", "80", env=env)
    assert result.exit_code == 4 and "SSMCTL_PLUGIN" in result.stderr
    result = cli_process("proxy", "web-1", "--engine", "plugin", env=env)
    assert result.exit_code == 4
    assert sessions.new() == []
