"""`ssmctl instances list|resolve` end to end against the sandbox over HTTP."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import boto3
import pytest
import yaml

from ssmctl.sandbox import Sandbox
from tests.conftest import RunCli

pytestmark = pytest.mark.usefixtures("ssmctl_sandbox_env")


def _names(stdout: str) -> list[str]:
    return [row["name"] for row in json.loads(stdout)]


def _list(cli: RunCli, *args: str) -> list[dict[str, Any]]:
    result = cli("instances", "list", *args, "--output", "json")
    assert result.exit_code == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def test_lists_every_instance_with_its_ssm_status(cli: RunCli, ssmctl_sandbox: Sandbox) -> None:
    rows = {row["name"]: row for row in _list(cli)}
    assert {"web-1", "web-2", "db-1", "bastion", "batch-1", "legacy-1", "nas-1"} <= set(rows)
    assert "eu-web-1" not in rows  # another region
    assert rows["web-1"]["ping_status"] == "Online"
    assert rows["web-1"]["instance_id"] == ssmctl_sandbox.node_id("web-1")
    assert rows["legacy-1"]["ping_status"] == "ConnectionLost"
    assert rows["batch-1"]["state"] == "stopped" and rows["batch-1"]["ping_status"] is None
    assert rows["scratch-1"]["ping_status"] is None and rows["scratch-1"]["state"] == "running"
    nas = rows["nas-1"]
    assert nas["instance_id"].startswith("mi-") and nas["resource_type"] == "ManagedInstance"
    assert nas["state"] is None and nas["private_ip"] == "192.168.10.20"
    assert nas["account_id"] == ssmctl_sandbox.account_id
    assert set(rows["web-1"]) == {
        "instance_id", "name", "state", "ping_status", "last_ping", "platform",
        "platform_name", "agent_version", "private_ip", "public_ip", "private_dns",
        "public_dns", "resource_type", "region", "account_id", "tags",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["web-*"], {"web-1", "web-2"}),
        (["Role=web"], {"web-1", "web-2"}),
        (["--tag", "Role=web", "--tag", "Env=prod"], {"web-1", "web-2"}),
        (["Env=dev"], {"batch-1", "legacy-1", "scratch-1"}),
        (["Role=stor*"], {"nas-1"}),
        (["Role=storage"], {"nas-1"}),
        (["Role=*", "--tag", "Env=dev"], {"batch-1", "legacy-1"}),
        (["10.0.2.21"], {"db-1"}),
        (["192.168.10.20"], {"nas-1"}),
        (["ip-10-0-1-11.ec2.internal"], {"web-1"}),
        (["--group", "web-prod"], {"web-1", "web-2"}),
        (["--group", "app-stack"], {"app-1", "app-2"}),
        (["--group", "app-stack", "app-2"], {"app-2"}),
        (["nothing-*"], set()),
    ],
)
def test_target_forms(cli: RunCli, args: list[str], expected: set[str]) -> None:
    assert {row["name"] for row in _list(cli, *args)} == expected


def test_by_id_and_hybrid_id(cli: RunCli, ssmctl_sandbox: Sandbox) -> None:
    for name in ("db-1", "nas-1", "batch-1"):
        node = ssmctl_sandbox.node_id(name)
        assert _names(cli("instances", "list", node, "-o", "json").stdout) == [name]


def test_several_regions_at_once(cli: RunCli) -> None:
    rows = _list(cli, "Role=web", "--region", "us-east-1,eu-west-1")
    assert {(r["name"], r["region"]) for r in rows} == {
        ("web-1", "us-east-1"),
        ("web-2", "us-east-1"),
        ("eu-web-1", "eu-west-1"),
    }
    assert {r["name"] for r in _list(cli, "Role=web", "--all-regions")} == {
        "web-1",
        "web-2",
        "eu-web-1",
    }


def test_public_dns_and_public_ip(cli: RunCli) -> None:
    web = next(r for r in _list(cli, "web-1"))
    assert _names(cli("instances", "list", web["public_ip"], "-o", "json").stdout) == ["web-1"]
    assert _names(cli("instances", "list", web["public_dns"], "-o", "json").stdout) == ["web-1"]


def test_unknown_group_is_not_found(cli: RunCli) -> None:
    result = cli("instances", "list", "--group", "nope")
    assert result.exit_code == 3
    assert result.stderr.strip() == "ssmctl: error: no resource group named 'nope' in us-east-1"


def test_machine_formats(cli: RunCli) -> None:
    csv_rows = list(
        csv.DictReader(io.StringIO(cli("instances", "list", "web-*", "-o", "csv").stdout))
    )
    assert sorted(r["name"] for r in csv_rows) == ["web-1", "web-2"]
    assert json.loads(csv_rows[0]["tags"])["Role"] == "web"
    yaml_rows = yaml.safe_load(cli("instances", "list", "web-*", "-o", "yaml").stdout)
    assert sorted(r["name"] for r in yaml_rows) == ["web-1", "web-2"]
    lines = cli("instances", "list", "web-*", "-o", "jsonl").stdout.splitlines()
    assert sorted(json.loads(line)["name"] for line in lines) == ["web-1", "web-2"]
    text = cli("instances", "list", "db-1", "-o", "text").stdout.split("\t")
    assert text[1:4] == ["db-1", "running", "Online"]


def test_output_defaults_to_json_when_piped(cli: RunCli) -> None:
    assert _names(cli("instances", "list", "db-1").stdout) == ["db-1"]


def test_table_is_for_people(cli: RunCli) -> None:
    result = cli("instances", "list", "web-*", "-o", "table")
    header = result.stdout.splitlines()[0].split()
    assert header[:4] == ["INSTANCE", "NAME", "STATE", "PING"]
    assert "web-1" in result.stdout and "Online" in result.stdout
    empty = cli("instances", "list", "none-*", "-o", "table")
    assert empty.exit_code == 0 and empty.stdout == ""
    assert "No instance matches none-* in us-east-1" in empty.stderr


def test_hostile_tag_values_come_out_inert(cli: RunCli) -> None:
    ec2 = boto3.client("ec2")
    # XML (EC2's protocol) cannot carry ESC itself; C1 CSI (\x9b), bidi overrides and
    # newlines travel fine and are just as dangerous on a terminal.
    hostile = "evil\x9b2J\u202eslo.exe\nline2[bold red]x[/]=cmd|' /C calc'!A0"
    ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "Name", "Value": hostile}, {"Key": "Hostile", "Value": "yes"}],
            }
        ],
    )
    raw = ("\x9b", "\u202e", "\nline2")
    table = cli("instances", "list", "Hostile=yes", "-o", "table").stdout
    assert not any(r in table for r in raw)
    assert "evil\\x9b2J\\u202eslo.exe\\nline2[bold red]x[/]" in table  # literal, not markup
    cells = list(
        csv.DictReader(io.StringIO(cli("instances", "list", "Hostile=yes", "-o", "csv").stdout))
    )
    assert cells[0]["name"] == "evil\\x9b2J\\u202eslo.exe\\nline2[bold red]x[/]=cmd|' /C calc'!A0"
    text = cli("instances", "list", "Hostile=yes", "-o", "text").stdout
    assert len(text.splitlines()) == 1 and not any(r in text for r in raw)
    as_json = cli("instances", "list", "Hostile=yes").stdout
    assert "\x9b" not in as_json and "\u202e" not in as_json
    assert json.loads(as_json)[0]["name"] == hostile
    formula = "=HYPERLINK(1)"
    ec2.create_tags(
        Resources=[json.loads(as_json)[0]["instance_id"]], Tags=[{"Key": "Name", "Value": formula}]
    )
    cells = list(
        csv.DictReader(io.StringIO(cli("instances", "list", "Hostile=yes", "-o", "csv").stdout))
    )
    assert cells[0]["name"] == "'=HYPERLINK(1)"


def test_resolve_one(cli: RunCli, ssmctl_sandbox: Sandbox) -> None:
    result = cli("instances", "resolve", "db-1", "-o", "text")
    assert (result.exit_code, result.stdout) == (0, ssmctl_sandbox.node_id("db-1") + "\n")


def test_ambiguity_is_never_resolved_silently(cli: RunCli, ssmctl_sandbox: Sandbox) -> None:
    result = cli("instances", "resolve", "web-*", "-o", "text")
    assert result.exit_code == 3
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "ssmctl: error: web-* matches 2 instances in us-east-1; "
        "name one by id, or pass --pick or --first"
    )
    assert lines[1].split() == ["INSTANCE", "NAME", "STATE", "PING"]
    assert {line.split()[1] for line in lines[2:]} == {"web-1", "web-2"}
    first = cli("instances", "resolve", "web-*", "--first", "-o", "text")
    assert first.stdout.strip() == ssmctl_sandbox.node_id("web-1")


def test_first_prefers_online_instances(cli: RunCli, ssmctl_sandbox: Sandbox) -> None:
    ssmctl_sandbox.set_ping_status("web-1", "ConnectionLost")
    try:
        result = cli("instances", "resolve", "web-*", "--first", "-o", "text")
        assert result.stdout.strip() == ssmctl_sandbox.node_id("web-2")
    finally:
        ssmctl_sandbox.set_ping_status("web-1", "Online")
    # When no candidate is online, --first takes the first by name and says why it fails.
    result = cli("instances", "resolve", "Env=dev", "--first")
    assert result.exit_code == 3
    assert "(batch-1) cannot take a session: instance is stopped" in result.stderr


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("legacy-1", "cannot take a session: SSM ping status ConnectionLost"),
        ("batch-1", "cannot take a session: instance is stopped, not registered with SSM"),
        ("scratch-1", "cannot take a session: not registered with SSM"),
    ],
)
def test_offline_targets_say_why(
    cli: RunCli, ssmctl_sandbox: Sandbox, target: str, why: str
) -> None:
    result = cli("instances", "resolve", target)
    assert result.exit_code == 3
    node = ssmctl_sandbox.node_id(target)
    assert result.stderr.startswith(f"ssmctl: error: {node} ({target}) {why}")
    assert cli("instances", "resolve", target, "--any-state", "-o", "text").stdout.strip() == node


def test_not_found(cli: RunCli) -> None:
    result = cli("instances", "resolve", "i-0123456789abcdef0")
    assert result.exit_code == 3
    assert "no instance matches i-0123456789abcdef0 in us-east-1" in result.stderr
