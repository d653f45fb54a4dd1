"""The fleet file: the built-in fleet, `count:` expansion, defaults, and validation errors
that name the file and line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ssmctl.errors import ConfigError
from ssmctl.sandbox import default_fleet, load_fleet
from ssmctl.sandbox.fleet_parse import DOCUMENTED_KEYS, parse_fleet

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = "users:\n  - name: alice\n"


def test_default_fleet_has_what_new_users_try_first() -> None:
    fleet = default_fleet()
    assert fleet.account_id == "111122223333"
    assert fleet.default_region == "us-east-1" and len(fleet.regions) >= 2
    assert [u.name for u in fleet.users][:2] == ["alice", "bob"] and fleet.default_user == "alice"
    assert any(u.expired for u in fleet.users)
    by_name = {i.name: i for i in fleet.all_instances()}
    assert by_name["web-1"].tags == {"Role": "web", "Env": "prod"}
    assert by_name["db-1"].tags["Role"] == "db"
    assert "bastion" in by_name
    assert any(i.state == "stopped" for i in fleet.instances)
    assert any(i.ping_status == "ConnectionLost" for i in fleet.instances)
    assert any(i.region != fleet.default_region for i in fleet.instances)
    assert all(i.agent_version for i in fleet.instances)
    assert by_name["web-1"].agent_version == "3.3.0.0"
    assert fleet.hybrid_nodes and re.fullmatch(r"mi-[0-9a-f]{17}", fleet.hybrid_nodes[0].node_id)
    kinds = {g.is_stack for g in fleet.groups}
    assert kinds == {True, False}
    assert fleet.connect_timeout == 300
    assert fleet.trail_throttle is not None and fleet.trail_throttle.rate == 2


def test_minimal_fleet_gets_defaults() -> None:
    fleet = parse_fleet(MINIMAL, "f.yaml")
    assert fleet.regions == ("us-east-1",) and fleet.default_region == "us-east-1"
    assert fleet.default_user == "alice" and fleet.instances == ()
    assert fleet.trail_throttle is not None and fleet.trail_throttle.burst == 2


def test_count_expands_a_name_template() -> None:
    text = MINIMAL + (
        "regions: [us-east-1, eu-west-1]\n"
        "instances:\n"
        "  - name: bench-{n:04d}\n"
        "    count: 1000\n"
        "    region: eu-west-1\n"
        "    tags: {Role: bench}\n"
        "  - name: other\n"
    )
    fleet = parse_fleet(text, "f.yaml")
    names = [i.name for i in fleet.instances]
    assert len(names) == 1001 and names[0] == "bench-0001" and names[999] == "bench-1000"
    assert all(
        i.region == "eu-west-1" and i.tags == {"Role": "bench"} for i in fleet.instances[:1000]
    )


def test_hybrid_node_ids_are_stable_and_platform_defaults_apply() -> None:
    text = MINIMAL + "hybrid_nodes:\n  - name: nas\n    platform: Windows\n"
    first, again = parse_fleet(text, "a"), parse_fleet(text, "b")
    node = first.hybrid_nodes[0]
    assert node.node_id == again.hybrid_nodes[0].node_id
    assert node.platform_name.startswith("Microsoft Windows") and node.computer_name


def test_throttle_can_be_turned_off_or_tuned() -> None:
    off = parse_fleet(MINIMAL + "cloudtrail: {throttle: false}\n", "f")
    assert off.trail_throttle is None
    tuned = parse_fleet(MINIMAL + "cloudtrail: {rate: 5, burst: 3}\n", "f")
    assert tuned.trail_throttle is not None and (
        tuned.trail_throttle.rate,
        tuned.trail_throttle.burst,
    ) == (5, 3)


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("users: [{name: a}]\nbogus: 1\n", 2, "unknown key 'bogus'"),
        ("regions: [mars-north-1]\nusers: [{name: a}]\n", 1, "unknown AWS region 'mars-north-1'"),
        ("account_id: 1234\nusers: [{name: a}]\n", 1, "account_id must be 12 digits"),
        (
            "default_region: eu-west-1\nregions: [us-east-1]\nusers: [{name: a}]\n",
            1,
            "not in regions",
        ),
        ("users: []\n", 1, "at least one IAM user"),
        ("users:\n  - name: a\n  - name: a\n", 3, "user 'a' is defined twice"),
        (
            "users:\n  - name: a\n    default: true\n  - name: b\n    default: true\n",
            5,
            "only one user",
        ),
        ("users:\n  - name: 'bad name'\n", 2, "users[0].name 'bad name' is not valid"),
        (
            MINIMAL + "instances:\n  - name: x\n    state: paused\n",
            5,
            "running, stopped; got 'paused'",
        ),
        (
            MINIMAL + "instances:\n  - name: x\n    region: eu-west-1\n",
            5,
            "not one of the fleet's regions",
        ),
        (
            MINIMAL + "instances:\n  - name: x\n    private_ip: 8.8.8.8\n",
            5,
            "not a private address",
        ),
        (
            MINIMAL + "instances:\n  - name: x\n    private_ip: 10.0.0.300\n",
            5,
            "not an IPv4 address",
        ),
        (MINIMAL + "instances:\n  - name: x\n  - name: x\n", 5, "already used by another node"),
        (
            MINIMAL + "instances:\n  - name: x\n    ping_status: Offline\n",
            5,
            "Online, ConnectionLost, Inactive",
        ),
        (
            MINIMAL + "instances:\n  - name: x\n    agent_version: latest\n",
            5,
            "agent_version 'latest' is not valid",
        ),
        (MINIMAL + "instances:\n  - name: x\n    tags: {Name: y}\n", 5, "Name tag comes from"),
        (
            MINIMAL + "instances:\n  - name: x\n    tags: {aws:x: y}\n",
            5,
            "must be 1-128 characters",
        ),
        (MINIMAL + "instances:\n  - name: x\n    tags: {Env: [a]}\n", 5, "tags.Env must be text"),
        (
            MINIMAL + "instances:\n  - name: x\n    managed: maybe\n",
            5,
            "managed must be true or false",
        ),
        (MINIMAL + "instances:\n  - name: bench\n    count: 3\n", 4, "must contain {n}"),
        (
            MINIMAL + "instances:\n  - name: b-{n}\n    count: 0\n",
            5,
            "count must be between 1 and 10000",
        ),
        (MINIMAL + "instances:\n  - name: b-{n:q}\n    count: 2\n", 4, "not a valid template"),
        (
            MINIMAL + "instances:\n  - name: b-{n}\n    count: 2\n    private_ip: 10.0.0.1\n",
            6,
            "cannot be combined with count",
        ),
        (MINIMAL + "instances:\n  - tags: {}\n", 4, "instances[0] needs a name"),
        (MINIMAL + "hybrid_nodes:\n  - name: h\n    id: i-123\n", 5, "mi- and 17 hex digits"),
        (MINIMAL + "resource_groups:\n  - name: g\n", 4, "exactly one of tag_filters"),
        (
            MINIMAL + "resource_groups:\n  - name: AWSg\n    tag_filters: {a: b}\n",
            4,
            "must not start with AWS",
        ),
        (
            MINIMAL + "resource_groups:\n  - name: g\n    tag_filters: {a: b}\n"
            "    resource_types: [AWS::S3::Bucket]\n",
            6,
            "AWS::AllSupported",
        ),
        (MINIMAL + "resource_groups:\n  - name: g\n    stack: {name: s}\n", 5, "needs instances"),
        (MINIMAL + "sessions: {connect_timeout: 0}\n", 3, "connect_timeout must be between"),
        (MINIMAL + "cloudtrail: {burst: 1.5}\n", 3, "burst must be a whole number"),
        ("users: [{name: a}\n", 2, "invalid YAML"),
    ],
)
def test_errors_name_file_and_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_fleet(text, "fleet.yaml")
    message = str(info.value)
    assert message.startswith(f"fleet.yaml:{line}: "), message
    assert fragment in message
    assert "\n" not in message


def test_load_fleet_reports_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_fleet(tmp_path / "nope.yaml")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigError, match=r"empty.yaml: the fleet file is empty"):
        load_fleet(empty)


def test_docs_describe_every_fleet_key() -> None:
    docs = (ROOT / "docs" / "sandbox.md").read_text(encoding="utf-8")
    missing = [key for key in DOCUMENTED_KEYS if f"`{key}`" not in docs]
    assert not missing, f"docs/sandbox.md does not document: {missing}"
