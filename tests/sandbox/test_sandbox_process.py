"""`python -m ssmctl.sandbox` with a custom fleet: export lines, `count:` at benchmark
size, the connect timeout, throttle settings, `--user`, signals and exit statuses."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from ssmctl.sandbox.process import SandboxProcess

from .helpers import Clients, error_of, make_clients, write

FLEET = """\
account_id: "444455556666"
regions: [eu-central-1, us-west-2]
default_region: eu-central-1
users:
  - name: auditor
  - name: ops-admin
    default: true
  - name: ex
    expired: true
sessions:
  connect_timeout: 1
cloudtrail:
  throttle: false
instances:
  - name: bench-{n:04d}
    count: 1000
    tags: {Role: bench}
  - name: cold-1
    state: stopped
  - name: west-1
    region: us-west-2
hybrid_nodes:
  - name: rack-7
    platform: Windows
resource_groups:
  - name: bench
    tag_filters: {Role: [bench]}
  - name: svc
    stack:
      instances:
        - name: svc-win
          platform: Windows
        - name: svc-linux
"""


@pytest.fixture(scope="module")
def custom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    path = write(tmp_path_factory.mktemp("fleet"), FLEET)
    process = SandboxProcess(path).start()
    yield process
    assert process.stop() == 0, process.stderr()


@pytest.fixture
def custom_aws(custom: SandboxProcess, boto3_session: boto3.session.Session) -> Clients:
    exports = custom.env()

    def credentials(user: str | None) -> tuple[str, str]:
        assert user is None, "the export lines carry one user's keys"
        return exports["AWS_ACCESS_KEY_ID"], exports["AWS_SECRET_ACCESS_KEY"]

    return make_clients(boto3_session, custom.endpoint_url, custom.region, credentials)


def test_export_lines_and_banner(custom: SandboxProcess, custom_aws: Clients) -> None:
    assert custom.endpoint_url.startswith("http://127.0.0.1:")
    assert custom.exports["AWS_REGION"] == custom.exports["AWS_DEFAULT_REGION"] == "eu-central-1"
    assert "AWS_SESSION_TOKEN" in custom.unset and "AWS_PROFILE" in custom.unset
    assert (
        custom.banner.startswith("# ssmctl sandbox on http://127.0.0.1:")
        and "Ctrl-C" in custom.banner
    )
    assert "444455556666" in custom.banner
    identity = custom_aws("sts").get_caller_identity()
    assert identity["Arn"] == "arn:aws:iam::444455556666:user/ops-admin"
    regions = custom_aws("ec2").describe_regions()["Regions"]
    assert sorted(r["RegionName"] for r in regions) == ["eu-central-1", "us-west-2"]
    everything = custom_aws("ec2").describe_regions(AllRegions=True)["Regions"]
    opted_out = {r["RegionName"] for r in everything if r["OptInStatus"] == "not-opted-in"}
    assert "us-east-1" in opted_out and "eu-central-1" not in opted_out


def test_count_creates_a_thousand_managed_instances(custom_aws: Clients) -> None:
    ssm = custom_aws("ssm")
    began = time.monotonic()
    pages = ssm.get_paginator("describe_instance_information").paginate(
        Filters=[{"Key": "tag:Role", "Values": ["bench"]}], PaginationConfig={"PageSize": 50}
    )
    items = [item for page in pages for item in page["InstanceInformationList"]]
    elapsed = time.monotonic() - began
    assert len(items) == 1000 and len({i["InstanceId"] for i in items}) == 1000
    assert elapsed < 30, f"listing 1,000 nodes took {elapsed:.1f} s"
    names = custom_aws("ec2").describe_instances(
        Filters=[{"Name": "tag:Name", "Values": ["bench-0001", "bench-1000"]}]
    )
    assert sum(len(r["Instances"]) for r in names["Reservations"]) == 2
    members = (
        custom_aws("resource-groups").get_paginator("list_group_resources").paginate(Group="bench")
    )
    assert sum(len(page["Resources"]) for page in members) == 1000


def test_stack_group_and_windows_nodes(custom_aws: Clients) -> None:
    ssm = custom_aws("ssm")
    windows = ssm.describe_instance_information(
        Filters=[{"Key": "PlatformTypes", "Values": ["Windows"]}]
    )
    kinds = sorted(i["ResourceType"] for i in windows["InstanceInformationList"])
    assert kinds == ["EC2Instance", "ManagedInstance"]
    resources = custom_aws("resource-groups").list_group_resources(Group="svc")["Resources"]
    assert len(resources) == 2
    ids = [r["Identifier"]["ResourceArn"].rsplit("/", 1)[1] for r in resources]
    described = custom_aws("ec2").describe_instances(InstanceIds=ids)["Reservations"]
    platforms = sorted(i.get("Platform", "linux") for r in described for i in r["Instances"])
    assert platforms == ["linux", "windows"]


def test_sessions_nobody_connects_to_fail_after_the_timeout(custom_aws: Clients) -> None:
    ssm = custom_aws("ssm")
    target = ssm.describe_instance_information(MaxResults=5)["InstanceInformationList"][0][
        "InstanceId"
    ]
    session_id = ssm.start_session(Target=target)["SessionId"]
    assert ssm.describe_sessions(
        State="Active", Filters=[{"key": "SessionId", "value": session_id}]
    )["Sessions"]
    time.sleep(1.3)
    history = ssm.describe_sessions(
        State="History", Filters=[{"key": "SessionId", "value": session_id}]
    )
    (failed,) = history["Sessions"]
    assert (
        failed["Status"] == "Failed"
        and 0.9 <= (failed["EndDate"] - failed["StartDate"]).total_seconds() <= 1.1
    )
    assert ssm.resume_session(SessionId=session_id)["TokenValue"] == ""


def test_throttle_can_be_turned_off(custom_aws: Clients) -> None:
    cloudtrail = custom_aws("cloudtrail", attempts=1)
    for _ in range(8):
        cloudtrail.lookup_events(MaxResults=1)


def test_user_option_and_sigint(
    ssmctl_sandbox_factory: Callable[..., SandboxProcess], tmp_path: Path, boto3_session: Any
) -> None:
    process = ssmctl_sandbox_factory(
        write(tmp_path, FLEET.replace("count: 1000", "count: 2")), user="ex"
    )
    exports = process.env()
    aws = make_clients(
        boto3_session,
        process.endpoint_url,
        process.region,
        lambda _: (exports["AWS_ACCESS_KEY_ID"], exports["AWS_SECRET_ACCESS_KEY"]),
    )
    assert error_of(aws("ssm").describe_instance_information)[0] == "ExpiredTokenException"
    assert error_of(aws("sts").get_caller_identity)[0] == "ExpiredToken"
    assert process.process is not None
    process.process.send_signal(signal.SIGINT)
    assert process.process.wait(20) == 0


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ssmctl.sandbox", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_bad_fleet_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, "users:\n  - name: a\ninstances:\n  - name: x\n    state: paused\n")
    done = _run("--fleet", str(path))
    assert done.returncode == 2 and done.stdout == ""
    problem = "instances[0].state must be one of running, stopped; got 'paused'"
    assert done.stderr == f"ssmctl sandbox: {path}:5: {problem}\n"


def test_unknown_user_and_busy_port(custom: SandboxProcess) -> None:
    done = _run("--user", "nobody")
    assert (
        done.returncode == 1
        and "no user 'nobody' in the fleet (users: alice, bob, carol)" in done.stderr
    )
    port = custom.endpoint_url.rsplit(":", 1)[1]
    done = _run("--port", port)
    assert done.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in done.stderr
