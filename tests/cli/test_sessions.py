"""`ssmctl sessions list|terminate` end to end against the sandbox over HTTP."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import boto3
import pytest

from ssmctl.sandbox import Sandbox
from tests.conftest import RunCli

pytestmark = pytest.mark.usefixtures("ssmctl_sandbox_env")


def _ssm(sandbox: Sandbox, user: str = "alice", region: str = "us-east-1") -> Any:
    creds = sandbox.users[user]
    return boto3.client(
        "ssm",
        region_name=region,
        endpoint_url=sandbox.endpoint_url,
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
    )


def _start(sandbox: Sandbox, target: str, user: str = "alice", **kwargs: Any) -> str:
    region = kwargs.pop("region", "us-east-1")
    node = sandbox.node_id(target, region)
    return str(_ssm(sandbox, user, region).start_session(Target=node, **kwargs)["SessionId"])


def _rows(cli: RunCli, *args: str) -> list[dict[str, Any]]:
    result = cli("sessions", "list", *args, "-o", "json")
    assert result.exit_code == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def test_lists_active_sessions_with_owner_and_reason(cli: RunCli, ssmctl_sandbox: Sandbox) -> None:
    alice = _start(ssmctl_sandbox, "web-1", Reason="deploy \x1b[31mhotfix")
    bob = _start(ssmctl_sandbox, "db-1", user="bob")
    rows = {r["session_id"]: r for r in _rows(cli)}
    assert alice.startswith("alice-") and bob.startswith("bob-")
    assert rows[alice]["target"] == ssmctl_sandbox.node_id("web-1")
    assert rows[alice]["owner"].endswith(":user/alice")
    assert rows[alice]["reason"] == "deploy \x1b[31mhotfix"
    assert rows[alice]["status"] in ("Connecting", "Connected")
    assert rows[bob]["owner"].endswith(":user/bob")
    table = cli("sessions", "list", "-o", "table").stdout
    assert alice in table and "\x1b" not in table and "deploy \\x1b[31mhotfix" in table


def test_filters(cli: RunCli, ssmctl_sandbox: Sandbox) -> None:
    mine = _start(ssmctl_sandbox, "bastion")
    theirs = _start(ssmctl_sandbox, "bastion", user="bob")
    ids = {r["session_id"] for r in _rows(cli, "--owner", "me")}
    assert mine in ids and theirs not in ids
    bob_arn = next(r["owner"] for r in _rows(cli) if r["session_id"] == theirs)
    assert theirs in {r["session_id"] for r in _rows(cli, "--owner", bob_arn)}
    on_bastion = {r["session_id"] for r in _rows(cli, "--target", "bastion")}
    assert {mine, theirs} <= on_bastion
    assert all(
        r["target"] == ssmctl_sandbox.node_id("bastion") for r in _rows(cli, "--target", "bastion")
    )
    assert {mine, theirs} <= {r["session_id"] for r in _rows(cli, "--target", "Role=bastion")}
    assert {r["session_id"] for r in _rows(cli, "--target", "nothing-*")} == set()
    assert mine in {r["session_id"] for r in _rows(cli, "--since", "5m")}
    assert mine not in {r["session_id"] for r in _rows(cli, "--until", "1h")}
    connecting = _rows(cli, "--status", "connecting")
    assert all(r["status"] == "Connecting" for r in connecting)


def test_several_regions(cli: RunCli, ssmctl_sandbox: Sandbox) -> None:
    eu = _start(ssmctl_sandbox, "eu-web-1", region="eu-west-1")
    assert eu not in {r["session_id"] for r in _rows(cli)}
    rows = {r["session_id"]: r for r in _rows(cli, "--region", "us-east-1,eu-west-1")}
    assert rows[eu]["region"] == "eu-west-1"
    assert eu in {r["session_id"] for r in _rows(cli, "--all-regions")}


def test_terminate_by_id_then_history(cli: RunCli, ssmctl_sandbox: Sandbox) -> None:
    session = _start(ssmctl_sandbox, "db-1")
    result = cli("sessions", "terminate", session, "--yes", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == [
        {
            "session_id": session,
            "region": "us-east-1",
            "target": ssmctl_sandbox.node_id("db-1"),
            "owner": json.loads(result.stdout)[0]["owner"],
            "result": "terminated",
            "detail": "",
        }
    ]
    assert session not in {r["session_id"] for r in _rows(cli)}
    history = {r["session_id"]: r for r in _rows(cli, "--history")}
    assert history[session]["status"] == "Terminated" and history[session]["end"]
    assert session in {r["session_id"] for r in _rows(cli, "--status", "Terminated")}


def test_terminate_mine_leaves_others(cli: RunCli, ssmctl_sandbox: Sandbox) -> None:
    mine = _start(ssmctl_sandbox, "web-2")
    theirs = _start(ssmctl_sandbox, "web-2", user="bob")
    result = cli("sessions", "terminate", "--mine", "--yes", "-o", "json")
    assert result.exit_code == 0, result.stderr
    done = {r["session_id"] for r in json.loads(result.stdout)}
    assert mine in done and theirs not in done
    active = {r["session_id"] for r in _rows(cli)}
    assert theirs in active and mine not in active


def test_terminate_by_target_and_age(cli: RunCli, ssmctl_sandbox: Sandbox) -> None:
    session = _start(ssmctl_sandbox, "win-1", user="bob")
    young = cli("sessions", "terminate", "--target", "win-1", "--older-than", "1h", "--yes")
    assert young.exit_code == 0 and "No matching active sessions" in young.stderr
    assert session in {r["session_id"] for r in _rows(cli)}
    result = cli("sessions", "terminate", "--target", "win-1", "--yes", "-o", "json")
    assert session in {r["session_id"] for r in json.loads(result.stdout)}


def test_terminate_unknown_session_fails_for_it(cli: RunCli) -> None:
    result = cli("sessions", "terminate", "alice-00000000000000000000000000", "--yes")
    assert result.exit_code == 1
    assert "alice-00000000000000000000000000: not an active session in us-east-1" in result.stderr


def test_terminate_refuses_without_yes_off_a_terminal(cli: RunCli, ssmctl_sandbox: Sandbox) -> None:
    session = _start(ssmctl_sandbox, "db-1")
    result = cli("sessions", "terminate", session)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "ssmctl: error: refusing to terminate sessions without --yes when not on a terminal"
    )
    assert session in {r["session_id"] for r in _rows(cli)}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--status", "sleeping"], "unknown session status 'sleeping'"),
        (["--history", "--status", "Connected"], "status Connected is never in the history"),
        (["--since", "yesterday"], "bad time 'yesterday'"),
        (["--since", "1h", "--until", "2h"], "--since is later than --until"),
    ],
)
def test_bad_filters_are_usage_errors(cli: RunCli, args: list[str], message: str) -> None:
    result = cli("sessions", "list", *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_terminate_needs_a_selection(cli: RunCli) -> None:
    assert cli("sessions", "terminate", "--yes").exit_code == 2
    bad_age = cli("sessions", "terminate", "--mine", "--older-than", "5", "--yes")
    assert bad_age.exit_code == 2 and "bad duration '5'" in bad_age.stderr


def test_history_is_ordered_newest_first(cli: RunCli, ssmctl_sandbox: Sandbox) -> None:
    rows = _rows(cli, "--history")
    starts = [dt.datetime.fromisoformat(r["start"].replace("Z", "+00:00")) for r in rows]
    assert starts == sorted(starts, reverse=True)
