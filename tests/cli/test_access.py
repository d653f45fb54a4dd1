"""`ssmctl access policy|validate|check` against the shared sandbox (enforcement off:
the simulator still evaluates the principals' real policies)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from ssmctl.access.policy import PolicyOptions, Scope, build_policy
from ssmctl.sandbox import Sandbox
from tests.conftest import RunCli

pytestmark = pytest.mark.usefixtures("ssmctl_sandbox_env")


def _policy(cli: RunCli, *args: str) -> dict[str, Any]:
    result = cli("access", "policy", *args)
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def _statement(document: dict[str, Any], sid: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in document["Statement"] if s["Sid"] == sid)
    return found


def test_policy_is_for_the_callers_account_and_region(cli: RunCli, ssmctl_sandbox: Sandbox) -> None:
    result = cli("access", "policy", "--tag", "Env=dev", "--output", "table")
    assert result.exit_code == 0, result.stderr
    expected = build_policy(
        PolicyOptions(tags=(("Env", "dev"),)), Scope(ssmctl_sandbox.account_id, ("us-east-1",))
    )
    assert json.loads(result.stdout) == expected  # JSON whatever the format asked for
    assert result.stdout == json.dumps(expected, indent=2) + "\n"
    assert "every instance" not in result.stderr
    # Stable: the same request prints the same bytes.
    assert cli("access", "policy", "--tag", "Env=dev").stdout == result.stdout


def test_policy_formats_regions_and_notes(cli: RunCli, ssmctl_sandbox: Sandbox) -> None:
    as_yaml = cli("access", "policy", "-o", "yaml")
    assert yaml.safe_load(as_yaml.stdout) == _policy(cli)
    assert "every instance are allowed" in as_yaml.stderr
    line = cli("access", "policy", "--read-only", "-o", "jsonl").stdout
    assert line.count("\n") == 1 and json.loads(line)["Statement"][0]["Sid"] == (
        "ReadSessionManagerState"
    )
    everywhere = _statement(_policy(cli, "--all-regions"), "StartSessionOnInstances")
    assert everywhere["Resource"] == [
        f"arn:aws:ec2:*:{ssmctl_sandbox.account_id}:instance/*",
        f"arn:aws:ssm:*:{ssmctl_sandbox.account_id}:managed-instance/*",
    ]
    two = _statement(_policy(cli, "--region", "us-east-1,eu-west-1"), "StartSessionWithDocuments")
    assert [r.split(":")[3] for r in two["Resource"]] == ["eu-west-1", "us-east-1"]


def test_policy_for_a_group_names_its_members(cli: RunCli, ssmctl_sandbox: Sandbox) -> None:
    start = _statement(_policy(cli, "--group", "web-prod"), "StartSessionOnInstances")
    account = ssmctl_sandbox.account_id
    assert start["Resource"] == sorted(
        f"arn:aws:ec2:us-east-1:{account}:instance/{ssmctl_sandbox.node_id(name)}"
        for name in ("web-1", "web-2")
    )
    missing = cli("access", "policy", "--group", "no-such-group")
    assert missing.exit_code == 3 and "no resource group named 'no-such-group'" in missing.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--instance", "web-1"], "is not an instance id"),
        (["--read-only", "--port-forwarding"], "--read-only grants no session actions"),
        (["--tag", "Env"], "malformed tag"),
        (["--document", "bad name"], "--document"),
    ],
)
def test_policy_usage_errors(cli: RunCli, args: list[str], fragment: str) -> None:
    result = cli("access", "policy", *args)
    assert result.exit_code == 2 and fragment in result.stderr and result.stdout == ""


def test_the_sandbox_simulator_reads_the_generated_policy(
    cli: RunCli, ssmctl_sandbox: Sandbox
) -> None:
    text = cli("access", "policy", "--tag", "Env=dev", "--port-forwarding").stdout
    iam: Any = boto3.client("iam")
    instance = f"arn:aws:ec2:us-east-1:{ssmctl_sandbox.account_id}:instance/i-0123456789abcdef0"
    forward = "arn:aws:ssm:us-east-1::document/AWS-StartPortForwardingSession"

    def decide(env: str, resource: str) -> str:
        found = iam.simulate_custom_policy(
            PolicyInputList=[text],
            ActionNames=["ssm:StartSession"],
            ResourceArns=[resource],
            ContextEntries=[{"ContextKeyName": "ssm:resourceTag/Env", "ContextKeyValues": [env]}],
        )
        return str(found["EvaluationResults"][0]["EvalDecision"])

    assert decide("dev", instance) == "allowed"
    assert decide("prod", instance) == "implicitDeny"
    assert decide("prod", forward) == "allowed"


def test_validate_lists_every_problem(cli: RunCli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "Start",
                        "Effect": "allow",
                        "Action": "ssm:StartSession",
                        "Resource": "*",
                    },
                    {
                        "Sid": "Start",
                        "Effect": "Allow",
                        "Action": "StartSession",
                        "Resource": "i-1",
                    },
                ],
            }
        )
    )
    result = cli("access", "validate", str(broken), "-o", "json")
    assert result.exit_code == 2
    problems = json.loads(result.stdout)
    assert {(p["where"], p["severity"]) for p in problems} == {
        ("Statement 1 (Sid Start)", "error"),
        ("Statement 2 (Sid Start)", "error"),
        ("Statement 2 (Sid Start) Action", "error"),
        ("Statement 2 (Sid Start) Resource", "error"),
    }
    assert result.stderr.startswith(f"ssmctl: error: {broken}: 4 errors; the first: ")
    assert "Effect must be Allow or Deny; got 'allow'" in result.stderr
    good = cli("access", "policy", "--tag", "Env=dev").stdout
    checked = cli("access", "validate", "-", input=good)
    assert checked.exit_code == 0 and "-: a valid policy" in checked.stderr
    missing = cli("access", "validate", str(tmp_path / "nope.json"))
    assert missing.exit_code == 2 and "cannot read" in missing.stderr


@pytest.fixture
def scoped_user(cli: RunCli) -> dict[str, str]:
    """A new IAM user holding `ssmctl access policy --tag Role=web` inline."""
    iam: Any = boto3.client("iam")
    name = f"web-admin-{uuid.uuid4().hex[:8]}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    text = cli("access", "policy", "--tag", "Role=web").stdout
    iam.put_user_policy(UserName=name, PolicyName="web-sessions", PolicyDocument=text)
    return {"name": name, "arn": arn}


def test_check_explains_an_allowed_session(cli: RunCli, scoped_user: dict[str, str]) -> None:
    result = cli("access", "check", "web-1", "--principal", scoped_user["arn"], "-o", "json")
    assert result.exit_code == 0, result.stderr
    rows = {row["kind"]: row for row in json.loads(result.stdout)}
    assert rows["instance"]["decision"] == rows["document"]["decision"] == "allowed"
    matched = rows["instance"]["matched_statements"]
    assert [(m["policy_id"], m["policy_type"]) for m in matched] == [("web-sessions", "user")]
    assert matched[0]["start_line"] < matched[0]["end_line"]
    assert rows["instance"]["reason"].startswith("allowed by web-sessions (user, lines ")
    assert rows["document"]["resource"].endswith(":document/SSM-SessionManagerRunShell")
    assert "ALLOWED: " in result.stderr and "(web-1) with SSM-SessionManagerRunShell" in (
        result.stderr
    )


def test_check_explains_denials(cli: RunCli, scoped_user: dict[str, str]) -> None:
    arn = scoped_user["arn"]
    result = cli("access", "check", "db-1", "--principal", arn, "-o", "json")
    assert result.exit_code == 6
    rows = {row["kind"]: row for row in json.loads(result.stdout)}
    assert rows["instance"]["decision"] == "implicitDeny"
    assert rows["instance"]["reason"] == "no statement allows ssm:StartSession on this instance"
    assert rows["document"]["decision"] == "allowed"
    assert "DENIED: " in result.stderr and "denied on the instance" in result.stderr
    # A document the policy does not name.
    forward = cli(
        "access", "check", "web-1", "--principal", arn, "--document", "AWS-StartSSHSession"
    )
    assert forward.exit_code == 6 and "denied on the document" in forward.stderr
    # An explicit deny from a group wins, and says which statement.
    iam: Any = boto3.client("iam")
    group = f"frozen-{uuid.uuid4().hex[:8]}"
    iam.create_group(GroupName=group)
    iam.add_user_to_group(GroupName=group, UserName=scoped_user["name"])
    deny = {"Effect": "Deny", "Action": "ssm:StartSession", "Resource": "arn:aws:ec2:*:*:*"}
    iam.put_group_policy(
        GroupName=group,
        PolicyName="freeze",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [deny]}),
    )
    frozen = cli("access", "check", "web-1", "--principal", arn, "-o", "json")
    assert frozen.exit_code == 6 and "explicitly denied on the instance" in frozen.stderr
    instance = next(r for r in json.loads(frozen.stdout) if r["kind"] == "instance")
    assert instance["decision"] == "explicitDeny"
    assert instance["reason"] == "explicitly denied by freeze (group, line 1)"


def test_check_missing_context_keys_are_named(cli: RunCli) -> None:
    iam: Any = boto3.client("iam")
    name = f"team-only-{uuid.uuid4().hex[:8]}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    text = cli("access", "policy", "--tag", "Team=blue").stdout
    iam.put_user_policy(UserName=name, PolicyName="team", PolicyDocument=text)
    result = cli("access", "check", "web-1", "--principal", arn, "-o", "json")
    assert result.exit_code == 6
    instance = next(r for r in json.loads(result.stdout) if r["kind"] == "instance")
    assert instance["missing_context_keys"] == ["ssm:resourceTag/Team"]
    assert "(the policies test ssm:resourceTag/Team, which the request lacks)" in instance["reason"]


def test_check_defaults_to_the_caller_and_keeps_target_rules(
    cli: RunCli, ssmctl_sandbox: Sandbox
) -> None:
    # The built-in fleet: alice may do anything, bob start sessions on Env=dev nodes.
    mine = cli("access", "check", "legacy-1", "-o", "json")  # offline targets can be checked
    assert mine.exit_code == 0, mine.stderr
    assert json.loads(mine.stdout)[0]["principal"] == ssmctl_sandbox.users["alice"].arn
    bob = ssmctl_sandbox.users["bob"].arn
    assert cli("access", "check", "legacy-1", "--principal", bob).exit_code == 0
    refused = cli("access", "check", "web-1", "--principal", bob)
    assert refused.exit_code == 6 and "denied on the instance" in refused.stderr
    ambiguous = cli("access", "check", "web-*")
    assert ambiguous.exit_code == 3 and "matches 2 instances" in ambiguous.stderr
    first = cli("access", "check", "web-*", "--first", "-o", "json")
    assert first.exit_code == 0 and json.loads(first.stdout)[0]["target_name"] == "web-1"
    nobody = f"arn:aws:iam::{ssmctl_sandbox.account_id}:user/nobody"
    unknown = cli("access", "check", "web-1", "--principal", nobody)
    assert unknown.exit_code == 1 and "NoSuchEntity" in unknown.stderr
    bad = cli("access", "check", "web-1", "--principal", "alice")
    assert bad.exit_code == 2 and "is not an IAM user, role or group ARN" in bad.stderr


def test_untrusted_policy_ids_are_made_inert(cli: RunCli) -> None:
    iam: Any = boto3.client("iam")
    name = f"odd-{uuid.uuid4().hex[:8]}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    text = cli("access", "policy").stdout
    # Real IAM refuses such a name; the sandbox (moto) keeps it, like a hostile API would.
    iam.put_user_policy(UserName=name, PolicyName="\u202eevil", PolicyDocument=text)
    table = cli("access", "check", "web-1", "--principal", arn, "-o", "table")
    assert table.exit_code == 0, table.stderr
    assert "\u202e" not in table.stdout and "\\u202eevil (user" in table.stdout
    as_json = cli("access", "check", "web-1", "--principal", arn, "-o", "json")
    assert "\u202e" not in as_json.stdout
    assert json.loads(as_json.stdout)[0]["matched_statements"][0]["policy_id"] == "\u202eevil"
