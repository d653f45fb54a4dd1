"""Target resolution details against the sandbox: churn, user agent, profiles, call log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from ssmctl.aws import AwsContext
from ssmctl.sandbox import Sandbox
from ssmctl.targets import _describe_ids, describe_info_by_ids, parse_target, resolve
from tests.conftest import RunCli

pytestmark = pytest.mark.usefixtures("ssmctl_sandbox_env")


def _aws(sandbox: Sandbox) -> AwsContext:
    return AwsContext(region="us-east-1", endpoint_url=sandbox.endpoint_url)


def _launch(count: int) -> list[str]:
    ec2: Any = boto3.client("ec2")
    done = ec2.run_instances(ImageId="ami-12c6146b", MinCount=count, MaxCount=count)
    return [i["InstanceId"] for i in done["Instances"]]


def test_ssm_lookup_survives_an_instance_that_vanished(ssmctl_sandbox: Sandbox) -> None:
    gone, kept = _launch(2)
    for instance in (gone, kept):
        ssmctl_sandbox.register_instance(instance)
    boto3.client("ec2").terminate_instances(InstanceIds=[gone])
    ssm = _aws(ssmctl_sandbox).client("ssm")
    ids = [ssmctl_sandbox.node_id("web-1"), gone, kept, ssmctl_sandbox.node_id("nas-1")]
    with pytest.raises(Exception, match="InvalidInstanceId"):
        ssm.describe_instance_information(Filters=[{"Key": "InstanceIds", "Values": ids}])
    found = describe_info_by_ids(ssm, ids)
    assert set(found) == {ids[0], kept, ids[3]}


def test_ec2_lookup_by_id_drops_ids_that_do_not_exist(ssmctl_sandbox: Sandbox) -> None:
    web = ssmctl_sandbox.node_id("web-1")
    ec2 = _aws(ssmctl_sandbox).client("ec2")
    rows = _describe_ids(ec2, [web, "i-0000000000000dead"], [])
    assert [row["InstanceId"] for row, _ in rows] == [web]


def test_group_members_that_were_terminated_are_left_out(ssmctl_sandbox: Sandbox) -> None:
    ec2: Any = boto3.client("ec2")
    tags = [{"Key": "Role", "Value": "web"}, {"Key": "Env", "Value": "prod"}]
    done = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )
    extra = done["Instances"][0]["InstanceId"]
    aws = _aws(ssmctl_sandbox)
    spec = parse_target(None, group="web-prod")
    ids = {i.instance_id for i in resolve(spec, region="us-east-1", client=aws.client)}
    assert extra in ids
    ec2.terminate_instances(InstanceIds=[extra])
    found = resolve(spec, region="us-east-1", client=aws.client)
    assert {i.name for i in found} == {"web-1", "web-2"}


def test_calls_carry_the_ssmctl_user_agent(
    cli_process: RunCli, fake_plugin: dict[str, str], ssmctl_sandbox: Sandbox
) -> None:
    env = {**fake_plugin, "FAKE_PLUGIN_OUTPUT": "ok"}
    assert cli_process("connect", "bastion", env=env).exit_code == 0
    session_id = json.loads(Path(env["FAKE_PLUGIN_RECORD"]).read_text())["response"]["SessionId"]
    trail: Any = boto3.client("cloudtrail")
    events = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "StartSession"}]
    )["Events"]
    records = [json.loads(e["CloudTrailEvent"]) for e in events]
    mine = [r for r in records if (r.get("responseElements") or {}).get("sessionId") == session_id]
    assert len(mine) == 1
    from ssmctl import __version__

    assert f"ssmctl/{__version__}" in mine[0]["userAgent"]


def test_assume_role_profiles_work_through_botocore(
    cli: RunCli, ssmctl_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = ssmctl_sandbox.users["alice"]
    config = tmp_path / "config"
    config.write_text(
        "[profile base]\nregion = us-east-1\n"
        f"[profile ops]\nregion = us-east-1\nsource_profile = base\n"
        f"role_arn = {ssmctl_sandbox.roles['ops']}\nrole_session_name = alice-ops\n"
    )
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[base]\naws_access_key_id = {alice.access_key_id}\n"
        f"aws_secret_access_key = {alice.secret_access_key}\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    ssm: Any = boto3.Session(profile_name="ops").client("ssm")
    session_id = ssm.start_session(Target=ssmctl_sandbox.node_id("db-1"))["SessionId"]
    assert session_id.startswith("alice-ops-")
    result = cli("sessions", "list", "--owner", "me", "--profile", "ops", "-o", "json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert session_id in {r["session_id"] for r in rows}
    assert all(":assumed-role/ops/alice-ops" in r["owner"] for r in rows)
    assert not any(p.name.startswith("cli") for p in tmp_path.iterdir())  # nothing cached


def test_debug_logs_each_call_without_secrets(cli: RunCli, ssmctl_sandbox: Sandbox) -> None:
    result = cli("instances", "list", "db-1", "--debug", "-o", "text")
    lines = [line for line in result.stderr.splitlines() if line.startswith("debug: ")]
    assert lines[0].startswith("debug: ec2.DescribeInstances us-east-1: HTTP 200 (")
    assert any(line.startswith("debug: ssm.DescribeInstanceInformation") for line in lines)
    assert ssmctl_sandbox.users["alice"].secret_access_key not in result.stderr
