"""`ssmctl connect` end to end: a real ssmctl process, the sandbox, and the fake plugin.

The fake plugin (tests/fakes) records its argv, environment and its parent's signal
dispositions, so these tests prove the plugin contract of protocol.md section 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from ssmctl.sandbox import Sandbox
from tests.conftest import RunCli

pytestmark = pytest.mark.usefixtures("ssmctl_sandbox_env")


def _record(env: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(env["FAKE_PLUGIN_RECORD"]).read_text())
    return data


def _sessions(sandbox: Sandbox, target: str, state: str = "Active") -> dict[str, dict[str, Any]]:
    ssm: Any = boto3.client("ssm")
    node = sandbox.node_id(target)
    found = ssm.describe_sessions(State=state, Filters=[{"key": "Target", "value": node}])
    return {s["SessionId"]: s for s in found["Sessions"]}


def test_hands_the_session_to_the_plugin_by_contract(
    cli_process: RunCli, fake_plugin: dict[str, str], ssmctl_sandbox: Sandbox
) -> None:
    before = set(_sessions(ssmctl_sandbox, "db-1"))
    env = {**fake_plugin, "FAKE_PLUGIN_OUTPUT": "hello from the plugin"}
    result = cli_process("connect", "db-1", "--reason", "check disk", env=env)
    assert result.exit_code == 0, result.stderr
    assert "hello from the plugin" in result.stdout
    assert f"Connecting to {ssmctl_sandbox.node_id('db-1')} (db-1) in us-east-1" in result.stderr
    record = _record(env)
    new = set(_sessions(ssmctl_sandbox, "db-1")) - before
    assert len(new) == 1  # still active: the plugin showed it and exited 0
    session_id = new.pop()
    args = record["args"]
    assert len(args) == 6
    assert args[0] == "AWS_SSM_START_SESSION_RESPONSE"  # the name, not the token
    assert args[1:4] == ["us-east-1", "StartSession", ""]
    assert json.loads(args[4]) == {"Target": ssmctl_sandbox.node_id("db-1"), "Reason": "check disk"}
    assert args[5] == ssmctl_sandbox.endpoint_url
    assert record["response_source"] == "env"
    assert record["response"]["SessionId"] == session_id
    token = record["response"]["TokenValue"]
    assert token and all(token not in a for a in args)
    assert token not in result.stdout + result.stderr
    if record["parent_signals"] is not None:
        assert {"SIGINT", "SIGQUIT", "SIGTSTP"} <= set(record["parent_signals"]["ignored"])
    assert _sessions(ssmctl_sandbox, "db-1")[session_id]["Reason"] == "check disk"


def test_exit_status_is_the_plugins_and_a_failed_session_is_ended(
    cli_process: RunCli, fake_plugin: dict[str, str], ssmctl_sandbox: Sandbox
) -> None:
    env = {
        **fake_plugin,
        "FAKE_PLUGIN_OUTPUT": "Cannot perform start session: EOF",
        "FAKE_PLUGIN_EXIT": "7",
    }
    result = cli_process("connect", "bastion", env=env)
    assert result.exit_code == 7
    session_id = _record(env)["response"]["SessionId"]
    assert session_id not in _sessions(ssmctl_sandbox, "bastion")
    assert _sessions(ssmctl_sandbox, "bastion", "History")[session_id]["Status"] == "Terminated"


def test_missing_plugin_starts_no_session(
    cli_process: RunCli, ssmctl_sandbox: Sandbox, tmp_path: Path
) -> None:
    before = set(_sessions(ssmctl_sandbox, "web-1"))
    result = cli_process(
        "connect", "web-1", env={"SSMCTL_PLUGIN": str(tmp_path / "nope"), "PATH": "/nonexistent"}
    )
    assert result.exit_code == 4
    assert result.stderr.startswith("ssmctl: error: ")
    assert "SSMCTL_PLUGIN" in result.stderr and "Traceback" not in result.stderr
    assert set(_sessions(ssmctl_sandbox, "web-1")) == before


def test_plugin_absent_everywhere_says_how_to_install(cli_process: RunCli, tmp_path: Path) -> None:
    result = cli_process("connect", "web-1", env={"PATH": str(tmp_path)})
    if result.exit_code != 4:  # a real plugin in a standard location
        pytest.skip("a session-manager-plugin is installed in a standard location")
    assert "session-manager-plugin" in result.stderr and "install" in result.stderr.lower()
    assert len(result.stderr.strip().splitlines()) == 1


def test_too_old_plugin_is_refused(
    cli_process: RunCli, fake_plugin: dict[str, str], ssmctl_sandbox: Sandbox
) -> None:
    before = set(_sessions(ssmctl_sandbox, "web-1"))
    result = cli_process("connect", "web-1", env={**fake_plugin, "FAKE_PLUGIN_VERSION": "1.1.61.0"})
    assert result.exit_code == 4
    assert "1.1.61.0" in result.stderr and "1.2.0.0" in result.stderr
    assert set(_sessions(ssmctl_sandbox, "web-1")) == before


def test_silent_plugin_times_out_and_the_session_is_terminated(
    cli_process: RunCli, fake_plugin: dict[str, str], ssmctl_sandbox: Sandbox
) -> None:
    before = set(_sessions(ssmctl_sandbox, "web-2", "History"))
    env = {**fake_plugin, "FAKE_PLUGIN_MODE": "silent", "FAKE_PLUGIN_SLEEP": "30"}
    result = cli_process("connect", "web-2", "--startup-timeout", "1", env=env)
    assert result.exit_code == 4
    assert "showed nothing within 1" in result.stderr
    # (Read from the service, not the fake's record: a loaded machine may kill the fake
    # before it writes anything, which is exactly what this test provokes.)
    ended = {
        sid: s
        for sid, s in _sessions(ssmctl_sandbox, "web-2", "History").items()
        if sid not in before
    }
    assert [s["Status"] for s in ended.values()] == ["Terminated"]
    assert next(iter(ended)) in result.stderr


def test_old_plugin_gets_the_response_in_argv_with_a_warning(
    cli_process: RunCli, fake_plugin: dict[str, str]
) -> None:
    env = {**fake_plugin, "FAKE_PLUGIN_VERSION": "1.2.497.0", "FAKE_PLUGIN_OUTPUT": "ok"}
    result = cli_process("connect", "web-1", env=env)
    assert result.exit_code == 0, result.stderr
    record = _record(env)
    assert record["response_source"] == "argv"
    assert json.loads(record["args"][0])["SessionId"] == record["response"]["SessionId"]
    assert "process list" in result.stderr or "(ps)" in result.stderr


def test_alias_carries_document_parameters_reason_and_profile(
    cli_process: RunCli, fake_plugin: dict[str, str], ssmctl_sandbox: Sandbox, tmp_path: Path
) -> None:
    creds = ssmctl_sandbox.users["bob"]
    aws_config = tmp_path / "aws-config"
    aws_config.write_text("[profile sbx]\nregion = us-east-1\n")
    aws_creds = tmp_path / "aws-credentials"
    aws_creds.write_text(
        f"[sbx]\naws_access_key_id = {creds.access_key_id}\n"
        f"aws_secret_access_key = {creds.secret_access_key}\n"
    )
    config = tmp_path / "ssmctl.yaml"
    config.write_text(
        "aliases:\n"
        "  db-tunnel:\n"
        "    target: Role=db\n"
        "    profile: sbx\n"
        "    document: AWS-StartPortForwardingSession\n"
        "    parameters: {portNumber: '5432', localPortNumber: '15432'}\n"
        "    reason: db maintenance\n"
    )
    env = {
        **fake_plugin,
        "FAKE_PLUGIN_OUTPUT": "Port 15432 opened",
        "SSMCTL_CONFIG": str(config),
        "AWS_CONFIG_FILE": str(aws_config),
        "AWS_SHARED_CREDENTIALS_FILE": str(aws_creds),
        "AWS_ACCESS_KEY_ID": "",
        "AWS_SECRET_ACCESS_KEY": "",
    }
    result = cli_process("connect", "@db-tunnel", env=env)
    assert result.exit_code == 0, result.stderr
    args = _record(env)["args"]
    assert args[3] == "sbx"
    assert json.loads(args[4]) == {
        "Target": ssmctl_sandbox.node_id("db-1"),
        "DocumentName": "AWS-StartPortForwardingSession",
        "Parameters": {"portNumber": ["5432"], "localPortNumber": ["15432"]},
        "Reason": "db maintenance",
    }
    session = _sessions(ssmctl_sandbox, "db-1")[_record(env)["response"]["SessionId"]]
    assert session["Owner"].endswith(":user/bob")
    assert session["DocumentName"] == "AWS-StartPortForwardingSession"


@pytest.mark.parametrize(
    ("target", "code", "message"),
    [
        ("web-*", 3, "web-* matches 2 instances"),
        ("legacy-1", 3, "SSM ping status ConnectionLost"),
        ("nothing-here", 3, "no instance matches nothing-here"),
        ("@nope", 2, "unknown alias @nope"),
        ("Env", 3, "no instance matches Env"),
    ],
)
def test_refusals_start_no_session(
    cli: RunCli,
    fake_plugin: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    code: int,
    message: str,
) -> None:
    for name, value in fake_plugin.items():
        monkeypatch.setenv(name, value)
    result = cli("connect", target)
    assert result.exit_code == code
    assert message in result.stderr
    assert not Path(fake_plugin["FAKE_PLUGIN_RECORD"]).exists()


def test_parameter_syntax(
    cli: RunCli, fake_plugin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in fake_plugin.items():
        monkeypatch.setenv(name, value)
    result = cli("connect", "db-1", "--parameter", "portNumber")
    assert result.exit_code == 2 and "malformed parameter 'portNumber'" in result.stderr


def test_python_dash_m_works(cli_process: RunCli) -> None:
    result = cli_process("--version")
    assert result.exit_code == 0 and result.stdout.startswith("ssmctl ")
    assert sys.executable
