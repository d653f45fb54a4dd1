"""`ssmctl audit events|sessions` end to end against the sandbox: formats, joins, hostile
content."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import pytest
import yaml

from ssmctl.sandbox import Sandbox
from tests.audit import records
from tests.audit.conftest import Clients, iso, window
from tests.conftest import RunCli

pytestmark = pytest.mark.usefixtures("unthrottled")
HOSTILE_REASON = "=cmd|' /C calc'!A0 \x1b[2J\x1b]0;owned\x07 [bold red]x[/] line1\nline2"
HOSTILE_AGENT = "curl/8 \x1b[31mred\u202eevil"


def _rows(cli: RunCli, *args: str) -> list[dict[str, Any]]:
    result = cli("audit", *args, "-o", "json")
    assert result.exit_code == 0, result.stderr
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def test_events_in_every_format(sandbox: Sandbox, cli: RunCli) -> None:
    begin, end = window()
    raw = records.sessions_history(["alice", "bob"], begin, 12, account=sandbox.account_id)
    sandbox.add_history(raw, bucket=False)
    span = ("--since", iso(begin), "--until", iso(end))
    rows = _rows(cli, "events", *span)
    assert [r["event_id"] for r in rows] == [r["eventID"] for r in raw]
    assert set(rows[0]) >= {
        "time", "event", "user_arn", "user_type", "user_name", "source_ip", "user_agent",
        "target", "document", "parameters", "reason", "session_id", "region", "account",
    }  # fmt: skip
    jsonl = cli("audit", "events", *span, "-o", "jsonl").stdout.splitlines()
    assert [json.loads(line) for line in jsonl] == rows
    assert yaml.safe_load(cli("audit", "events", *span, "-o", "yaml").stdout) == rows
    table = cli("audit", "events", *span, "-o", "table").stdout
    assert table.splitlines()[0].split()[:3] == ["TIME", "(UTC)", "EVENT"]
    assert len(table.splitlines()) == 13
    text = cli("audit", "events", *span, "-o", "text").stdout.splitlines()
    assert text[0].split("\t")[:2] == [rows[0]["time"][:19].replace("T", " "), "StartSession"]
    only = _rows(cli, "events", *span, "--event", "terminate", "--user", "bob")
    assert {(r["event"], r["user_name"]) for r in only} == {("TerminateSession", "bob")}
    empty = cli(
        "audit",
        "events",
        "--since",
        iso(begin - dt.timedelta(days=3)),
        "--until",
        iso(begin - dt.timedelta(days=2)),
        "-o",
        "table",
    )
    assert empty.exit_code == 0 and "No Session Manager events" in empty.stderr


def test_hostile_fields_come_out_inert(sandbox: Sandbox, cli: RunCli) -> None:
    begin, end = window()
    sid = records.session_id("mallory", 1)
    record = records.start(
        sid, begin, account=sandbox.account_id, reason=HOSTILE_REASON, userAgent=HOSTILE_AGENT
    )
    sandbox.add_history([record], bucket=False)
    span = ("--since", iso(begin), "--until", iso(end))
    for fmt in ("table", "text", "csv"):
        out = cli("audit", "events", *span, "-o", fmt).stdout
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out, fmt
        assert "\\x1b[2J" in out and "line1\\nline2" in out, fmt
    table = cli("audit", "events", *span, "-o", "table").stdout
    assert "[bold red]x[/]" in table  # shown as written, never taken for markup
    (row,) = list(csv.DictReader(io.StringIO(cli("audit", "events", *span, "-o", "csv").stdout)))
    assert row["reason"].startswith("'=cmd|")
    assert row["user_agent"] == "curl/8 \\x1b[31mred\\u202eevil"
    (parsed,) = _rows(cli, "events", *span)
    assert parsed["reason"] == HOSTILE_REASON and parsed["user_agent"] == HOSTILE_AGENT
    raw_json = cli("audit", "events", *span, "-o", "json").stdout
    assert "\x1b" not in raw_json and "\u202e" not in raw_json


def test_sessions_join_start_resume_terminate_by_another_user(
    sandbox: Sandbox, cli: RunCli, clients: Clients
) -> None:
    alice, bob = clients("ssm"), clients("ssm", user="bob")
    web = alice.start_session(Target=sandbox.node_id("web-1"), Reason="INC-7 \x1b[31mfix")
    port = bob.start_session(
        Target=sandbox.node_id("db-1"),
        DocumentName="AWS-StartPortForwardingSession",
        Parameters={"portNumber": ["5432"], "localPortNumber": ["15432"]},
    )
    alice.resume_session(SessionId=web["SessionId"])
    bob.terminate_session(SessionId=web["SessionId"])
    ids = (web["SessionId"], port["SessionId"])
    args = ("sessions", "--since", "10m", "--session-id", ids[0], "--session-id", ids[1])
    rows = {r["session_id"]: r for r in _rows(cli, *args)}
    assert set(rows) == set(ids)
    first = rows[ids[0]]
    assert first["user_name"] == "alice" and first["user_type"] == "IAMUser"
    assert first["user_arn"] == sandbox.users["alice"].arn
    assert first["target"] == sandbox.node_id("web-1") and first["target_name"] == "web-1"
    assert first["reason"] == "INC-7 \x1b[31mfix"
    assert first["document"] == "SSM-SessionManagerRunShell"
    assert first["status"] == "Terminated" and first["ended_by"] == "terminated"
    assert first["terminated_by"] == sandbox.users["bob"].arn
    assert first["resumes"] == 1 and first["end"] and first["duration_seconds"] is not None
    assert first["source_ip"] == "127.0.0.1" and "Boto3" in first["user_agent"]
    second = rows[ids[1]]
    assert second["document"] == "AWS-StartPortForwardingSession"
    assert second["parameters"] == {"portNumber": ["5432"], "localPortNumber": ["15432"]}
    assert second["logged"] is False and "never logged" in second["log_note"], second
    assert second["ended_by"] is None and second["end"] is None, json.dumps(second)
    mine = _rows(cli, *args, "--user", "bob")
    assert [r["session_id"] for r in mine] == [ids[1]]
    on_web = _rows(cli, *args, "--target", "web-1")
    assert [r["session_id"] for r in on_web] == [ids[0]]
    table = cli("audit", *args, "-o", "table").stdout
    assert "terminated" in table and "web-1" in table and "\x1b" not in table
    assert cli("audit", *args, "-o", "csv").stdout.count("\n") == 3


def test_session_names_in_bulk_tolerate_unknown_targets(
    sandbox: Sandbox, cli: RunCli, clients: Clients
) -> None:
    begin, end = window()
    ec2 = clients("ec2")
    reservation = ec2.run_instances(
        ImageId="ami-0a1b2c3d4e5f60718",
        MinCount=1,
        MaxCount=1,
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [{"Key": "Name", "Value": "=1+1 [bold]\u202eevil"}],
            }
        ],
    )
    hostile = reservation["Instances"][0]["InstanceId"]
    ec2.terminate_instances(InstanceIds=[hostile])
    raw = [
        records.start(
            records.session_id("ann", 1), begin, target=hostile, account=sandbox.account_id
        ),
        records.start(
            records.session_id("ann", 2),
            begin + dt.timedelta(seconds=1),
            target="i-0fffffffffffffff0",
            account=sandbox.account_id,
        ),
        records.start(
            records.session_id("ann", 3),
            begin + dt.timedelta(seconds=2),
            target=sandbox.node_id("web-2"),
            account=sandbox.account_id,
        ),
        records.start(
            records.session_id("ann", 4),
            begin + dt.timedelta(seconds=3),
            target=sandbox.node_id("nas-1"),
            account=sandbox.account_id,
        ),
    ]
    sandbox.add_history(raw, bucket=False)
    span = ("--since", iso(begin), "--until", iso(end), "--no-transcripts")
    rows = _rows(cli, "sessions", *span)
    # EC2 names (a terminated instance's too), none for an unknown id, a hybrid node's.
    assert [r["target_name"] for r in rows] == ["=1+1 [bold]\u202eevil", None, "web-2", "nas-1"]
    table = cli("audit", "sessions", *span, "-o", "table").stdout
    assert "=1+1 [bold]\\u202eevil" in table and "\u202e" not in table
    (row, *_) = csv.DictReader(io.StringIO(cli("audit", "sessions", *span, "-o", "csv").stdout))
    assert row["target_name"] == "'=1+1 [bold]\\u202eevil"
