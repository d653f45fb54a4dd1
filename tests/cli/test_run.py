"""`ssmctl run` end to end against a sandbox of its own (50 + 60 instances, an offline
one, a Windows one): the commands really run, on the emulated instances."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from ssmctl.sandbox.process import SandboxProcess
from tests.conftest import RunCli

FLEET = """
users: [{name: alice}]
instances:
  - name: node-{n:02d}
    count: 50
    tags: {Role: fleet}
  - name: lost-1
    tags: {Role: lost}
    ping_status: ConnectionLost
  - name: win-1
    platform: Windows
    tags: {Role: win}
  - name: bulk-{n:02d}
    count: 60
    tags: {Role: bulk}
resource_groups:
  - name: bulk-group
    tag_filters: {Role: [bulk]}
"""


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    path = tmp_path_factory.mktemp("run") / "fleet.yaml"
    path.write_text(FLEET, encoding="utf-8")
    with SandboxProcess(path) as process:
        yield process


@pytest.fixture(scope="module")
def env(box: SandboxProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str | None]:
    """The environment of a ssmctl pointed at the sandbox (other AWS_* variables unset)."""
    empty = tmp_path_factory.mktemp("aws") / "empty"
    empty.write_text("", encoding="utf-8")
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("AWS_")}
    return {
        **unset,
        **box.exports,
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
    }


@pytest.fixture(scope="module")
def ids(box: SandboxProcess, env: dict[str, str | None]) -> dict[str, str]:
    """Fleet name -> instance id."""
    ec2 = _client(box, "ec2")
    out = {}
    for page in ec2.get_paginator("describe_instances").paginate():
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
                out[tags["Name"]] = instance["InstanceId"]
    return out


def _client(box: SandboxProcess, service: str) -> Any:
    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        region_name=box.region,
        endpoint_url=box.endpoint_url,
        aws_access_key_id=box.exports["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=box.exports["AWS_SECRET_ACCESS_KEY"],
    )


def _records(stdout: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in json.loads(stdout)}


def test_fifty_instances_one_failing(cli: RunCli, env: Any, ids: dict[str, str]) -> None:
    script = (
        f'if [ "$AWS_SSM_INSTANCE_ID" = {ids["node-17"]} ]; then echo broken >&2; exit 3; fi; '
        "echo ok"
    )
    result = cli("run", "--tag", "Role=fleet", "-o", "json", "--", script, env=env)
    assert result.exit_code == 7, result.stderr
    records = _records(result.stdout)
    assert len(records) == 50
    failed = records.pop("node-17")
    assert (failed["status"], failed["exit_code"], failed["instance_id"]) == (
        "Failed",
        3,
        ids["node-17"],
    )
    assert failed["stderr"] == "broken\nfailed to run commands: exit status 3\n"
    assert {(r["status"], r["exit_code"], r["stdout"]) for r in records.values()} == {
        ("Success", 0, "ok\n")
    }
    assert "ssmctl: 50 instances: 49 succeeded, 1 failed, 0 timed out, 0 skipped" in result.stderr
    assert f"  failed: node-17 ({ids['node-17']}): exit code 3" in result.stderr


def test_all_succeed_prefixed_lines_and_inert_output(cli: RunCli, env: Any) -> None:
    script = r'printf "a\tb\n"; printf "\033[31mred\n"; echo note >&2'
    result = cli("run", "node-0*", "-o", "table", "--", script, env=env)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 18
    assert "node-01 | a\tb" in lines
    assert "node-01 | \\x1b[31mred" in lines
    assert "\x1b" not in result.stdout
    assert "node-09 ! note" in result.stderr.splitlines()
    assert "ssmctl: 9 instances: 9 succeeded, 0 failed, 0 timed out, 0 skipped" in result.stderr
    raw = cli("run", "node-01", "--raw", "-o", "text", "--", script, env=env)
    assert "node-01 | \x1b[31mred" in raw.stdout.splitlines()


def _parse(fmt: str, text: str) -> list[dict[str, Any]]:
    if fmt == "jsonl":
        return [json.loads(line) for line in text.splitlines()]
    if fmt == "yaml":
        loaded: list[dict[str, Any]] = yaml.safe_load(text)
        return loaded
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize("fmt", ["jsonl", "yaml", "csv"])
def test_machine_formats_carry_output_and_exit_codes(cli: RunCli, env: Any, fmt: str) -> None:
    result = cli(
        "run", "node-11", "node-12", "-o", fmt, "--", "echo out; echo err >&2; exit 2", env=env
    )
    assert result.exit_code == 7, result.stderr
    rows = {r["name"]: r for r in _parse(fmt, result.stdout)}
    assert set(rows) == {"node-11", "node-12"}
    newline = "\\n" if fmt == "csv" else "\n"  # CSV cells escape control characters
    for row in rows.values():
        assert row["stdout"] == f"out{newline}"
        assert row["stderr"] == f"err{newline}failed to run commands: exit status 2{newline}"
        assert str(row["exit_code"]) == "2" and row["status"] == "Failed"
        assert row["command_id"] and row["document"] == "AWS-RunShellScript"
        assert row["start"] and row["end"] and row["region"] == "us-east-1"


def test_an_offline_target_is_skipped_and_reported(
    cli: RunCli, env: Any, ids: dict[str, str]
) -> None:
    result = cli("run", "lost-1", "node-13", "-o", "json", "--", "echo hi", env=env)
    assert result.exit_code == 8, result.stderr
    records = _records(result.stdout)
    lost = records["lost-1"]
    assert (lost["status"], lost["status_details"], lost["command_id"]) == (
        "Skipped",
        "SSM ping status ConnectionLost",
        None,
    )
    assert records["node-13"]["status"] == "Success"
    assert f"  skipped: lost-1 ({ids['lost-1']}): SSM ping status ConnectionLost" in result.stderr
    alone = cli("run", "lost-1", "--", "echo hi", env=env)
    assert alone.exit_code == 3
    assert "lost-1: SSM ping status ConnectionLost" in alone.stderr


def test_max_concurrency_1_runs_one_instance_at_a_time(cli: RunCli, env: Any) -> None:
    script = "s=$(date +%s%N); sleep 0.2; echo $s $(date +%s%N)"
    nodes = ["node-21", "node-22", "node-23", "node-24"]
    result = cli("run", *nodes, "--max-concurrency", "1", "-o", "json", "--", script, env=env)
    assert result.exit_code == 0, result.stderr
    spans = sorted(tuple(map(int, r["stdout"].split())) for r in json.loads(result.stdout))
    assert len(spans) == 4
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start, f"two commands overlapped: {spans}"


def test_max_errors_0_stops_after_the_first_failure(cli: RunCli, env: Any) -> None:
    nodes = ["node-31", "node-32", "node-33", "node-34"]
    result = cli(
        "run", *nodes, "--max-concurrency", "1", "--max-errors", "0", "-o", "json", "--",
        "exit 1", env=env,
    )  # fmt: skip
    assert result.exit_code == 7, result.stderr
    statuses = sorted((r["status"], r["status_details"]) for r in json.loads(result.stdout))
    assert statuses == [("Cancelled", "Terminated")] * 3 + [("Failed", "Failed")]
    assert "0 succeeded, 1 failed, 0 timed out, 3 cancelled, 0 skipped" in result.stderr


def test_max_errors_across_several_calls(cli: RunCli, env: Any) -> None:
    # A Name glob goes by id: 60 instances make two calls (50 + 10). Ten run at once; the
    # first ten fail, so the first call stops there and the second is never sent.
    result = cli(
        "run", "bulk-*", "--max-concurrency", "10", "--max-errors", "0", "--debug",
        "-o", "jsonl", "--", "exit 1", env=env,
    )  # fmt: skip
    assert result.exit_code == 7, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    details = [r["status_details"] for r in rows]
    assert (len(rows), details.count("Failed")) == (60, 10)
    assert details.count("Terminated") == 40 and details.count("NotSent") == 10
    assert result.stderr.count("ssm.SendCommand") == 1


def test_timeout_ends_timed_out(cli: RunCli, env: Any) -> None:
    started = time.monotonic()
    result = cli("run", "node-41", "--timeout", "1", "-o", "json", "--", "sleep 20", env=env)
    assert time.monotonic() - started < 15
    assert result.exit_code == 7, result.stderr
    (record,) = json.loads(result.stdout)
    assert (record["status"], record["status_details"]) == ("TimedOut", "ExecutionTimedOut")
    assert "1 timed out" in result.stderr


def test_windows_without_pwsh_fails_clearly_next_to_linux(cli: RunCli, env: Any) -> None:
    if shutil.which("pwsh"):
        pytest.skip("pwsh is installed here: the Windows instance would run the command")
    result = cli("run", "win-1", "node-42", "-o", "json", "--debug", "--", "echo hi", env=env)
    assert result.exit_code == 7, result.stderr
    records = _records(result.stdout)
    win = records["win-1"]
    assert (win["status"], win["exit_code"], win["document"]) == (
        "Failed",
        127,
        "AWS-RunPowerShellScript",
    )
    assert "pwsh (PowerShell 7) is not installed" in win["stderr"]
    assert records["node-42"]["document"] == "AWS-RunShellScript"
    assert records["node-42"]["stdout"] == "hi\n"
    assert result.stderr.count("ssm.SendCommand") == 2


@pytest.mark.parametrize("target", [["--tag", "Role=bulk"], ["--group", "bulk-group"]])
def test_a_big_tag_or_group_target_is_one_targets_call(
    cli: RunCli, env: Any, target: list[str]
) -> None:
    result = cli("run", *target, "--debug", "-o", "jsonl", "--", "echo hi", env=env)
    assert result.exit_code == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 60 and {r["stdout"] for r in rows} == {"hi\n"}
    assert {r["name"] for r in rows} == {f"bulk-{n:02d}" for n in range(1, 61)}
    assert result.stderr.count("ssm.SendCommand") == 1


def test_ctrl_c_cancels_the_command(
    box: SandboxProcess, env: dict[str, str | None], tmp_path: Path
) -> None:
    full = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    process = subprocess.Popen(
        [sys.executable, "-m", "ssmctl", "run", "node-45", "node-46", "-o", "text", "--",
         f"sleep 30; touch {tmp_path / 'finished'}"],
        env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stderr is not None
    sent = process.stderr.readline()
    assert "sent to 2 instances" in sent, sent
    command_id = sent.split()[2]
    ssm = _client(box, "ssm")
    deadline = time.monotonic() + 15
    while {
        i["Status"]
        for i in ssm.list_command_invocations(CommandId=command_id)["CommandInvocations"]
    } != {"InProgress"}:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 130, err
    assert "cancelled: node-45" in err and "Interrupted" in err
    command = ssm.list_commands(CommandId=command_id)["Commands"][0]
    assert command["Status"] in ("Cancelling", "Cancelled")
    deadline = time.monotonic() + 10
    while ssm.list_commands(CommandId=command_id)["Commands"][0]["Status"] != "Cancelled":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert not (tmp_path / "finished").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["node-01", "uptime"], "after --"),
        (["--", "uptime"], "give TARGETS"),
        (["node-01", "--max-concurrency", "0", "--", "true"], "--max-concurrency must be"),
        (["node-01", "--max-errors", "10x", "--", "true"], "--max-errors must be"),
        (["node-01", "--timeout", "0", "--", "true"], "--timeout"),
        (["node-01", "--comment", "x" * 101, "--", "true"], "--comment"),
        (["node-01", "--", " "], "no command to run"),
    ],
)
def test_usage_errors(cli: RunCli, env: Any, args: list[str], message: str) -> None:
    result = cli("run", *args, env=env)
    assert result.exit_code == 2
    assert message in result.stderr


def test_nothing_matches(cli: RunCli, env: Any) -> None:
    result = cli("run", "nothing-*", "--", "true", env=env)
    assert result.exit_code == 3
    assert "no instance matches nothing-*" in result.stderr


def test_truncated_output_is_said_so(cli: RunCli, env: Any) -> None:
    script = "head -c 30000 /dev/zero | tr '\\000' a"
    table = cli("run", "node-43", "-o", "table", "--", script, env=env)
    assert table.exit_code == 0, table.stderr
    assert "node-43 ! [stdout truncated: AWS returns only the first 24,000 characters]" in (
        table.stderr.splitlines()
    )
    assert table.stdout == "node-43 | " + "a" * 24_000 + "\n"
    (record,) = json.loads(cli("run", "node-43", "-o", "json", "--", script, env=env).stdout)
    assert (record["stdout_truncated"], record["stderr_truncated"]) == (True, False)


def test_max_concurrency_holds_across_several_calls(cli: RunCli, env: Any) -> None:
    # 60 instances by Name glob: two calls (50 + 10); never more than 10 running at once.
    script = "s=$(date +%s%N); sleep 0.05; echo $s $(date +%s%N)"
    result = cli(
        "run", "bulk-*", "--max-concurrency", "10", "--debug", "-o", "jsonl", "--", script,
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    spans = [
        tuple(map(int, json.loads(line)["stdout"].split())) for line in result.stdout.splitlines()
    ]
    assert len(spans) == 60 and result.stderr.count("ssm.SendCommand") == 2
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    assert peak <= 10
