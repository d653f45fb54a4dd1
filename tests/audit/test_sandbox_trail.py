"""The sandbox's trail bucket and seeded history: fleet keys, errors, delivery."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from ssmctl.errors import ConfigError
from ssmctl.sandbox.fleet_parse import parse_fleet
from ssmctl.sandbox.fleet_trail import parse_history
from ssmctl.sandbox.process import SandboxProcess
from tests.audit import records

UTC = dt.timezone.utc
HEAD = "users: [{name: alice}]\ncloudtrail:\n"


def _fleet(tmp_path: Path, body: str, history: Any = None, head: str = HEAD) -> Path:
    if history is not None:
        (tmp_path / "history.json").write_text(
            history if isinstance(history, str) else json.dumps(history, indent=1)
        )
    path = tmp_path / "fleet.yaml"
    path.write_text(head + body)
    return path


def test_fleet_keys(tmp_path: Path) -> None:
    start = records.start(records.session_id("alice", 1), dt.datetime(2025, 1, 1, tzinfo=UTC))
    path = _fleet(
        tmp_path,
        "  throttle: false\n  bucket: audit-trail\n  prefix: /org/\n"
        "  organization_id: o-abcdef1234\n  delivery_interval: 5\n"
        "  history: history.json\n  history_in_bucket: false\n",
        {"Records": [start]},
    )
    fleet = parse_fleet(path.read_text(), str(path))
    assert fleet.trail_delivery is not None
    assert (fleet.trail_delivery.bucket, fleet.trail_delivery.prefix) == ("audit-trail", "org")
    assert fleet.trail_delivery.organization_id == "o-abcdef1234"
    assert fleet.trail_delivery.interval == 5
    assert fleet.trail_history == (start,) and fleet.history_in_bucket is False
    assert fleet.trail_throttle is None


@pytest.mark.parametrize(
    ("body", "history", "line", "fragment"),
    [
        ("  bucket: Not_A_Bucket\n", None, 3, "cloudtrail.bucket 'Not_A_Bucket' is not valid"),
        ("  prefix: logs\n", None, 3, "cloudtrail.prefix needs cloudtrail.bucket"),
        ("  bucket: b-1\n  organization_id: org\n", None, 4, "cloudtrail.organization_id"),
        ("  bucket: b-1\n  delivery_interval: -1\n", None, 4, "between 0 and 86400"),
        ("  history: nope.json\n", None, 3, "nope.json does not exist"),
        ("  history: history.json\n", '[{"eventID": "x"}]', 3, "history.json:1: record 1 lacks"),
        (
            "  history: history.json\n",
            '[\n {"eventID": "1", "eventName": "StartSession", "eventTime": "2025-01-01T00:00:00Z",'
            ' "eventSource": "ssm.amazonaws.com", "awsRegion": "us-east-1"},\n {"eventName": 3}\n]',
            3,
            "history.json:3: record 2 lacks eventID",
        ),
        ("  history: history.json\n", '[{"a": }]', 3, "history.json:1: invalid JSON"),
        ("  history: history.json\n", '{"x": 1}', 3, 'expected a list or {"Records"'),
    ],
)
def test_fleet_errors_name_the_file_and_line(
    tmp_path: Path, body: str, history: str | None, line: int, fragment: str
) -> None:
    path = _fleet(tmp_path, body, history)
    with pytest.raises(ConfigError) as info:
        parse_fleet(path.read_text(), str(path))
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert fragment in message, message


def test_history_files_as_lists_or_trail_files() -> None:
    record = records.start_iam_user()
    assert parse_history(json.dumps([record]), "h.json") == [record]
    assert parse_history(json.dumps({"Records": [record, record]}), "h.json") == [record, record]
    assert parse_history("[]", "h.json") == []
    with pytest.raises(ConfigError, match=r"h\.json: the history file is empty"):
        parse_history("  ", "h.json")


def test_a_fleet_trail_delivers_on_its_interval_and_seeds_history(
    tmp_path: Path, ssmctl_sandbox_factory: Callable[..., SandboxProcess]
) -> None:
    now = dt.datetime.now(UTC).replace(microsecond=0)
    account = "111122223333"
    recent = records.start(
        records.session_id("hist", 1), now - dt.timedelta(days=2), account=account
    )
    ancient = records.start(
        records.session_id("hist", 2), now - dt.timedelta(days=200), account=account
    )
    path = _fleet(
        tmp_path,
        "  throttle: false\n  bucket: fleet-trail\n  prefix: t\n  delivery_interval: 0.5\n"
        "  history: history.json\n",
        [ancient, recent],
        head="users: [{name: alice}]\ninstances: [{name: web-1}]\ncloudtrail:\n",
    )
    sandbox = ssmctl_sandbox_factory(path)
    env = sandbox.env()

    def client(service: str) -> Any:
        return boto3.client(
            service,  # type: ignore[call-overload]
            region_name=env["AWS_REGION"],
            endpoint_url=env["AWS_ENDPOINT_URL"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )

    s3 = client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="fleet-trail").get("Contents", [])]
    assert len(keys) == 2 and all(k.startswith(f"t/AWSLogs/{account}/CloudTrail/") for k in keys)
    assert any((now - dt.timedelta(days=200)).strftime("/%Y/%m/%d/") in k for k in keys)
    looked_up = client("cloudtrail").lookup_events(StartTime=now - dt.timedelta(days=365))
    assert [e["EventId"] for e in looked_up["Events"]] == [recent["eventID"]]
    instance = client("ec2").describe_instances()["Reservations"][0]["Instances"][0]["InstanceId"]
    client("ssm").start_session(Target=instance)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = s3.list_objects_v2(Bucket="fleet-trail").get("Contents", [])
        if len(found) > 2:
            break
        time.sleep(0.2)
    assert len(found) == 3
