"""Bad input gets one clear line and a documented exit code; a traceback only with --debug."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssmctl.sandbox import Sandbox
from tests.conftest import RunCli

pytestmark = pytest.mark.usefixtures("ssmctl_sandbox_env")


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["instances", "list", "--tag", "Env"], 2, "malformed tag 'Env': expected Key=Value"),
        (["instances", "list", "--tag", "Env="], 2, "empty value (use Env=* for any value)"),
        (["instances", "resolve", "i-12zz"], 3, "no instance matches i-12zz"),
        (["instances", "list", "i-123"], 2, "malformed instance id 'i-123'"),
        (
            ["sessions", "terminate", "--mine", "--older-than", "soon", "--yes"],
            2,
            "bad duration 'soon'",
        ),
        (["connect", "web-1", "--region", "a,b"], 2, "this command works in one region"),
        (["instances", "list", "--region", "a", "--all-regions"], 2, "cannot be combined"),
        (["instances", "list", "--output", "xml"], 2, "Invalid value for '--output'"),
        (["instances", "lst"], 2, "No such command 'lst'"),
    ],
)
def test_usage_errors(cli: RunCli, args: list[str], code: int, message: str) -> None:
    result = cli(*args)
    assert result.exit_code == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_yaml_is_reported_with_file_and_line(cli: RunCli, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("region: us-east-1\naliases:\n  web: [unclosed\n")
    result = cli("instances", "list", "--config", str(config))
    assert result.exit_code == 2
    assert _one_line(result.stderr).startswith(f"ssmctl: error: {config}:4:1: invalid YAML")


def test_config_from_environment_variable(
    cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("output: yaml\naliases:\n  dbs: Role=db\n")
    monkeypatch.setenv("SSMCTL_CONFIG", str(config))
    result = cli("instances", "list", "@dbs")
    assert result.exit_code == 0
    assert result.stdout.startswith("- instance_id: ")
    monkeypatch.setenv("SSMCTL_CONFIG", str(tmp_path / "missing.yaml"))
    missing = cli("instances", "list")
    assert missing.exit_code == 2 and "missing.yaml does not exist" in missing.stderr


def test_unknown_alias(cli: RunCli) -> None:
    result = cli("instances", "list", "@web")
    assert result.exit_code == 2
    assert _one_line(result.stderr).startswith("ssmctl: error: unknown alias @web")


def test_expired_credentials(
    cli: RunCli, ssmctl_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    carol = ssmctl_sandbox.users["carol"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", carol.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", carol.secret_access_key)
    result = cli("instances", "list")
    assert result.exit_code == 1
    line = _one_line(result.stderr)
    assert "AWS rejected the credentials" in line and "expired" in line


def test_unknown_credentials(cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    result = cli("sessions", "list")
    assert result.exit_code == 1
    assert "AWS rejected the credentials" in _one_line(result.stderr)


def test_missing_credentials(cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    result = cli("instances", "list")
    assert result.exit_code == 1
    assert _one_line(result.stderr) == (
        "ssmctl: error: no AWS credentials found: "
        "use --profile, set AWS_PROFILE, or run aws configure"
    )


def test_unknown_profile(cli: RunCli) -> None:
    result = cli("instances", "list", "--profile", "nope")
    assert result.exit_code == 2
    assert "AWS profile 'nope' is not defined" in _one_line(result.stderr)


def test_missing_region(cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    result = cli("sessions", "list")
    assert result.exit_code == 2
    assert "no AWS region" in _one_line(result.stderr)


def test_unreachable_endpoint(cli: RunCli) -> None:
    result = cli("instances", "list", "--endpoint-url", "http://127.0.0.1:9")
    assert result.exit_code == 1
    assert "cannot reach the AWS endpoint" in _one_line(result.stderr)


def test_debug_shows_the_traceback(cli: RunCli) -> None:
    result = cli("instances", "list", "--tag", "Env", "--debug")
    assert result.exit_code == 2
    assert "Traceback" in result.stderr and "malformed tag" in result.stderr


def test_debug_from_environment(cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSMCTL_DEBUG", "1")
    assert "Traceback" in cli("instances", "list", "--tag", "Env").stderr
