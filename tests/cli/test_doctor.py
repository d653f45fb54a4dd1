"""`ssmctl doctor` end to end against a sandbox that enforces IAM: all OK; an expired user
(FAIL, exit 6); no preferences document (WARN); preferences whose default is not the
latest (WARN); an offline target (FAIL); a missing plugin; a user who may not simulate
(WARN); a principal who may not start sessions (FAIL)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from ssmctl.sandbox.process import SandboxProcess
from tests.conftest import FAKE_PLUGIN, RunCli

ACCOUNT = "888899990000"
FLEET = f"""\
account_id: "{ACCOUNT}"
regions: [us-east-1, eu-west-1, eu-central-1]
iam:
  enforce: true
  policies:
    - name: everything
      document:
        Version: "2012-10-17"
        Statement: [{{Effect: Allow, Action: "*", Resource: "*"}}]
    - name: no-simulating
      document:
        Version: "2012-10-17"
        Statement:
          - {{Effect: Allow, Action: ["ssm:*", "ec2:*", "tag:*"], Resource: "*"}}
users:
  - name: ops
    default: true
    policies: [{{managed: everything}}]
  - name: limited
    policies: [{{managed: no-simulating}}]
  - name: nobody
  - name: ex
    expired: true
instances:
  - name: web-1
    tags: {{Role: web}}
  - name: lost-1
    ping_status: ConnectionLost
"""
PREFERENCES = {
    "schemaVersion": "1.0",
    "description": "Session Manager preferences",
    "sessionType": "Standard_Stream",
    "inputs": {
        "s3BucketName": "transcripts",
        "s3KeyPrefix": "sessions",
        "cloudWatchLogGroupName": "/sessions",
        "cloudWatchStreamingEnabled": True,
    },
}


class Doctor:
    def __init__(self, process: SandboxProcess, empty: Path) -> None:
        self.process = process
        self.empty = empty
        exports = process.env()
        self.keys = {"ops": (exports["AWS_ACCESS_KEY_ID"], exports["AWS_SECRET_ACCESS_KEY"])}

    def client(self, service: str, region: str | None = None, user: str = "ops") -> Any:
        key, secret = self.user_keys(user)
        return boto3.session.Session().client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.process.endpoint_url,
            region_name=region or self.process.region,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=Config(retries={"total_max_attempts": 1}),
        )

    def user_keys(self, user: str) -> tuple[str, str]:
        if user not in self.keys:
            made = self.client("iam").create_access_key(UserName=user)["AccessKey"]
            self.keys[user] = (made["AccessKeyId"], made["SecretAccessKey"])
        return self.keys[user]

    def env(self, user: str = "ops", **extra: str | None) -> dict[str, str | None]:
        key, secret = self.user_keys(user)
        return {
            "AWS_ENDPOINT_URL": self.process.endpoint_url,
            "AWS_REGION": self.process.region,
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_SESSION_TOKEN": None,
            "AWS_PROFILE": None,
            "AWS_CONFIG_FILE": str(self.empty),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.empty),
            "SSMCTL_PLUGIN": str(FAKE_PLUGIN),
            **extra,
        }


@pytest.fixture(scope="module")
def doctor_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Doctor]:
    folder = tmp_path_factory.mktemp("doctor")
    (folder / "fleet.yaml").write_text(FLEET)
    (folder / "empty").write_text("")
    process = SandboxProcess(folder / "fleet.yaml").start()
    try:
        doctor = Doctor(process, folder / "empty")
        content = json.dumps(PREFERENCES)
        for region in ("us-east-1", "eu-central-1"):
            doctor.client("ssm", region).create_document(
                Name="SSM-SessionManagerRunShell",
                Content=content,
                DocumentType="Session",
                DocumentFormat="JSON",
            )
        # eu-central-1: a second version that is not made the default.
        newer = json.dumps({**PREFERENCES, "inputs": {"idleSessionTimeout": "10"}})
        doctor.client("ssm", "eu-central-1").update_document(
            Name="SSM-SessionManagerRunShell", Content=newer, DocumentVersion="$LATEST"
        )
        yield doctor
    finally:
        process.stop()


def _doctor(cli: RunCli, env: dict[str, str | None], *args: str) -> tuple[int, dict[str, Any]]:
    result = cli("doctor", *args, "-o", "json", env=env)
    rows = {row["check"]: row for row in json.loads(result.stdout)}
    assert all(set(row) == {"check", "verdict", "reason", "seconds"} for row in rows.values())
    return result.exit_code, rows


def _verdicts(rows: dict[str, Any]) -> dict[str, str]:
    return {name: row["verdict"] for name, row in rows.items()}


def test_all_ok(cli: RunCli, doctor_sandbox: Doctor) -> None:
    code, rows = _doctor(cli, doctor_sandbox.env(), "web-1")
    assert _verdicts(rows) == dict.fromkeys(
        [
            "plugin",
            "region",
            "endpoint",
            "credentials",
            "preferences",
            "logging",
            "target",
            "access",
        ],
        "OK",
    ), rows
    assert code == 0
    assert rows["plugin"]["reason"].startswith("session-manager-plugin 1.2.")
    assert rows["region"]["reason"] == "us-east-1 (from AWS_REGION)"
    assert rows["credentials"]["reason"] == f"arn:aws:iam::{ACCOUNT}:user/ops (account {ACCOUNT})"
    assert "S3 bucket transcripts (prefix sessions/)" in rows["logging"]["reason"]
    assert "CloudWatch Logs group /sessions (streaming)" in rows["logging"]["reason"]
    assert "(web-1) Online, last ping" in rows["target"]["reason"]
    assert rows["access"]["reason"].startswith(f"arn:aws:iam::{ACCOUNT}:user/ops may start")
    table = cli("doctor", "-o", "table", env=doctor_sandbox.env())
    assert table.exit_code == 0 and "CHECK" in table.stdout and "failed" not in table.stderr


def test_an_expired_user_fails_with_the_fix(cli: RunCli, doctor_sandbox: Doctor) -> None:
    code, rows = _doctor(cli, doctor_sandbox.env("ex"), "web-1")
    assert code == 6
    credentials = rows["credentials"]
    assert credentials["verdict"] == "FAIL"
    assert "ExpiredToken" in credentials["reason"] and "refresh them" in credentials["reason"]
    assert {rows[n]["verdict"] for n in ("preferences", "logging", "target", "access")} == {"SKIP"}
    assert rows["logging"]["reason"] == "needs preferences"
    assert rows["plugin"]["verdict"] == rows["region"]["verdict"] == "OK"
    table = cli("doctor", "-o", "table", env=doctor_sandbox.env("ex"))
    assert table.exit_code == 6 and "1 check(s) failed: credentials" in table.stderr


def test_missing_preferences_are_a_warning(cli: RunCli, doctor_sandbox: Doctor) -> None:
    code, rows = _doctor(cli, doctor_sandbox.env(), "--region", "eu-west-1")
    assert code == 0
    assert rows["preferences"]["verdict"] == "WARN"
    assert "no SSM-SessionManagerRunShell document in eu-west-1" in rows["preferences"]["reason"]
    assert rows["logging"]["verdict"] == "WARN"
    assert "not logged" in rows["logging"]["reason"]
    assert rows["region"]["reason"] == "eu-west-1 (from --region)"


def test_default_version_behind_the_latest_is_a_warning(
    cli: RunCli, doctor_sandbox: Doctor
) -> None:
    code, rows = _doctor(cli, doctor_sandbox.env(), "--region", "eu-central-1")
    assert code == 0
    assert rows["preferences"]["verdict"] == "WARN"
    assert "default version 1 is not the latest (2)" in rows["preferences"]["reason"]
    assert rows["logging"]["verdict"] == "OK"  # the default version's inputs apply


def test_an_offline_target_fails(cli: RunCli, doctor_sandbox: Doctor) -> None:
    code, rows = _doctor(cli, doctor_sandbox.env(), "lost-1")
    assert code == 6
    assert rows["target"]["verdict"] == "FAIL"
    assert "SSM ping status ConnectionLost, last ping 2h" in rows["target"]["reason"]
    assert (rows["access"]["verdict"], rows["access"]["reason"]) == ("SKIP", "needs target")
    code, rows = _doctor(cli, doctor_sandbox.env(), "nothing-like-this")
    assert code == 6 and "no instance matches nothing-like-this" in rows["target"]["reason"]


def test_a_missing_plugin(cli: RunCli, doctor_sandbox: Doctor, tmp_path: Path) -> None:
    env = doctor_sandbox.env(SSMCTL_PLUGIN=str(tmp_path / "no-plugin-here"))
    code, rows = _doctor(cli, env)
    plugin = rows["plugin"]
    assert str(tmp_path / "no-plugin-here") in plugin["reason"]
    if importlib.util.find_spec("ssmctl.engines.native") is not None:
        # connect can still work: the native engine carries the session.
        assert plugin["verdict"] == "WARN" and "native engine" in plugin["reason"]
        assert code == 0
    else:
        assert plugin["verdict"] == "FAIL" and code == 6


def test_a_user_who_may_not_simulate_gets_a_warning(cli: RunCli, doctor_sandbox: Doctor) -> None:
    code, rows = _doctor(cli, doctor_sandbox.env("limited"), "web-1")
    assert rows["target"]["verdict"] == "OK"
    assert rows["access"]["verdict"] == "WARN"
    assert "may not call iam:SimulatePrincipalPolicy" in rows["access"]["reason"]
    assert code == 0


def test_a_principal_who_may_not_start_sessions_fails(cli: RunCli, doctor_sandbox: Doctor) -> None:
    nobody = f"arn:aws:iam::{ACCOUNT}:user/nobody"
    code, rows = _doctor(cli, doctor_sandbox.env(), "web-1", "--principal", nobody)
    assert code == 6
    access = rows["access"]
    assert access["verdict"] == "FAIL"
    assert access["reason"].startswith(f"{nobody} may not start a session on ")
    assert "instance: no statement allows ssm:StartSession" in access["reason"]


def test_a_bad_principal_is_a_usage_error(cli: RunCli, doctor_sandbox: Doctor) -> None:
    result = cli("doctor", "web-1", "--principal", "ops", env=doctor_sandbox.env())
    assert result.exit_code == 2 and "is not an IAM user, role or group ARN" in result.stderr
