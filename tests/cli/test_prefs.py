"""`ssmctl prefs` end to end against the sandbox (moto's SSM documents over HTTP).

The tests work in eu-west-1 and ap-southeast-2, each starting without the preferences
document there, and put back the document the built-in fleet creates (other tests start
sessions in those regions and rely on its preferences).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from ssmctl.sandbox import Sandbox
from tests.conftest import Result, RunCli
from tests.ptyrun import PtyProcess

DOC = "SSM-SessionManagerRunShell"
EU, AP = "eu-west-1", "ap-southeast-2"
BOTH = f"{EU},{AP}"


def _client(service: Any, region: str) -> Any:
    return boto3.client(service, region_name=region)


def _versions(region: str) -> tuple[str, str] | None:
    """(default, latest) version of the document, None when there is none."""
    try:
        doc = _client("ssm", region).describe_document(Name=DOC)["Document"]
    except _client("ssm", region).exceptions.InvalidDocument:
        return None
    return doc["DefaultVersion"], doc["LatestVersion"]


def _content(region: str, version: str | None = None) -> dict[str, Any]:
    """The document's content: the default version unless `version` is given."""
    kwargs = {"DocumentVersion": version} if version else {}
    body = _client("ssm", region).get_document(Name=DOC, **kwargs)["Content"]
    content: dict[str, Any] = json.loads(body)
    return content


def _raw_update(region: str, **inputs: Any) -> str:
    """Change the latest version as another tool might: without making it the default."""
    content = _content(region)
    content["inputs"].update(inputs)
    response = _client("ssm", region).update_document(
        Name=DOC, Content=json.dumps(content), DocumentVersion="$LATEST"
    )
    return str(response["DocumentDescription"]["DocumentVersion"])


@pytest.fixture(autouse=True)
def _no_document(ssmctl_sandbox_env: dict[str, str]) -> Iterator[None]:
    """Each test starts without the document in its two regions; the fleet's own document
    (its `session_preferences`, which other tests rely on) is put back afterwards."""
    saved: dict[str, dict[str, str]] = {}
    for region in (EU, AP):
        ssm = _client("ssm", region)
        if _versions(region) is not None:
            doc = ssm.get_document(Name=DOC)
            saved[region] = {"Content": doc["Content"], "DocumentFormat": doc["DocumentFormat"]}
            ssm.delete_document(Name=DOC)
    yield
    for region in (EU, AP):
        ssm = _client("ssm", region)
        if _versions(region) is not None:
            ssm.delete_document(Name=DOC)
        if region in saved:
            ssm.create_document(Name=DOC, DocumentType="Session", **saved[region])


def _json(result: Result) -> Any:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_init_then_show(cli: RunCli) -> None:
    before = _json(cli("prefs", "show", "--region", BOTH, "-o", "json"))
    assert [(r["region"], r["exists"], r["default_version"]) for r in before] == [
        (EU, False, None),
        (AP, False, None),
    ]
    assert before[0]["preferences"]["idleSessionTimeout"] == "20"
    assert "idleSessionTimeout" in before[0]["defaults"]

    created = _json(cli("prefs", "init", "--region", EU, "-o", "json"))
    assert created == [
        {
            "region": EU,
            "result": "created",
            "default_version": "1",
            "previous_default_version": None,
            "changes": [{"key": "cloudWatchStreamingEnabled", "before": False, "after": True}],
            "detail": "",
        }
    ]
    # The document as AWS's console writes it: every input, booleans and string minutes.
    content = _content(EU)
    assert content["schemaVersion"] == "1.0" and content["sessionType"] == "Standard_Stream"
    assert content["inputs"] == {
        "s3BucketName": "",
        "s3KeyPrefix": "",
        "s3EncryptionEnabled": False,
        "cloudWatchLogGroupName": "",
        "cloudWatchEncryptionEnabled": False,
        "cloudWatchStreamingEnabled": True,
        "idleSessionTimeout": "20",
        "maxSessionDuration": "",
        "kmsKeyId": "",
        "runAsEnabled": False,
        "runAsDefaultUser": "",
        "shellProfile": {"windows": "", "linux": ""},
    }

    shown = _json(cli("prefs", "show", "--region", BOTH, "-o", "json"))
    assert shown[0]["exists"] and shown[0]["default_version"] == shown[0]["latest_version"] == "1"
    assert shown[0]["preferences"]["cloudWatchStreamingEnabled"] is True
    assert shown[0]["defaults"] == [
        "s3BucketName",
        "s3KeyPrefix",
        "cloudWatchLogGroupName",
        "maxSessionDuration",
        "kmsKeyId",
        "runAsDefaultUser",
        "shellProfile.windows",
        "shellProfile.linux",
    ]
    assert shown[0]["warning"] is None and not shown[1]["exists"]

    table = cli("prefs", "show", "--region", BOTH, "-o", "table")
    assert table.exit_code == 0
    assert f"{EU}: {DOC} default version 1, latest 1" in table.stdout
    assert f"{AP}: no {DOC} document; AWS's defaults apply" in table.stdout
    assert any(
        line.split() == ["idleSessionTimeout", "20", "default"]
        for line in table.stdout.splitlines()
    )
    text = cli("prefs", "show", "--region", EU, "-o", "text").stdout.splitlines()
    assert f"{EU}\tcloudWatchStreamingEnabled\ttrue\tdocument" in text

    again = _json(cli("prefs", "init", "--region", BOTH, "-o", "json"))
    assert [(r["region"], r["result"], r["default_version"]) for r in again] == [
        (EU, "exists", "1"),
        (AP, "created", "1"),
    ]
    assert _versions(EU) == ("1", "1")


def test_set_across_two_regions_promotes_each_new_version(
    cli: RunCli, ssmctl_sandbox: Sandbox
) -> None:
    bucket = f"ssmctl-prefs-{secrets.token_hex(4)}"
    _client("s3", "us-east-1").create_bucket(Bucket=bucket)
    group = f"/ssmctl/prefs/{secrets.token_hex(4)}"
    for region in (EU, AP):
        _client("logs", region).create_log_group(logGroupName=group)
    cli("prefs", "init", "--region", BOTH)

    result = cli(
        "prefs",
        "set",
        "idleSessionTimeout=30",
        "maxSessionDuration=90",
        f"s3BucketName={bucket}",
        f"cloudWatchLogGroupName={group}",
        "shellProfile.linux=exec bash -l",
        "--region",
        BOTH,
        "--yes",
        "-o",
        "json",
    )
    rows = _json(result)
    assert [(r["region"], r["result"], r["default_version"]) for r in rows] == [
        (EU, "updated", "2"),
        (AP, "updated", "2"),
    ]
    assert f"{EU}: default version 1 -> new version 2" in result.stderr
    assert "  idleSessionTimeout      20 -> 30" in result.stderr
    assert f"  s3BucketName            (not set) -> {bucket}" in result.stderr
    for region in (EU, AP):
        assert _versions(region) == ("2", "2")  # written AND made the default
        inputs = _content(region)["inputs"]
        assert inputs["idleSessionTimeout"] == "30" and inputs["maxSessionDuration"] == "90"
        assert inputs["s3BucketName"] == bucket and inputs["cloudWatchLogGroupName"] == group
        assert inputs["shellProfile"] == {"windows": "", "linux": "exec bash -l"}
        assert _content(region, "1")["inputs"]["idleSessionTimeout"] == "20"

    # The sandbox reads the same document: a shell session gets the new limits and logs.
    ssm = _client("ssm", EU)
    session = ssm.start_session(Target=ssmctl_sandbox.node_id("eu-web-1", EU))["SessionId"]
    described = ssm.describe_sessions(
        State="Active", Filters=[{"key": "SessionId", "value": session}]
    )["Sessions"][0]
    ssm.terminate_session(SessionId=session)
    assert described["MaxSessionDuration"] == "90"
    assert bucket in described["OutputUrl"]["S3OutputUrl"]

    same = cli("prefs", "set", "idleSessionTimeout=30", "--region", BOTH, "--yes", "-o", "json")
    assert [r["result"] for r in _json(same)] == ["unchanged", "unchanged"]
    assert "No changes" in same.stderr
    assert _versions(EU) == _versions(AP) == ("2", "2")  # no empty version

    # Back to version 1's preferences: AWS refuses a duplicate text, a new version is made.
    back = cli(
        "prefs",
        "set",
        "idleSessionTimeout=",
        "maxSessionDuration=",
        "s3BucketName=",
        "cloudWatchLogGroupName=",
        "shellProfile.linux=",
        "--region",
        EU,
        "--yes",
        "-o",
        "json",
    )
    assert _json(back)[0]["result"] == "updated"
    assert _versions(EU) == ("3", "3")
    assert _content(EU)["inputs"] == _content(EU, "1")["inputs"]


def test_set_dry_run_and_refusal_off_a_terminal_change_nothing(cli: RunCli) -> None:
    cli("prefs", "init", "--region", EU)
    dry = cli("prefs", "set", "idleSessionTimeout=45", "--region", EU, "--dry-run", "-o", "table")
    assert dry.exit_code == 0
    assert dry.stdout == (
        f"{EU}: default version 1 -> new version 2\n  idleSessionTimeout  20 -> 45\n"
    )
    plans = _json(cli("prefs", "set", "idleSessionTimeout=45", "--region", EU, "--dry-run"))
    assert plans[0]["action"] == "update" and plans[0]["changes"] == [
        {"key": "idleSessionTimeout", "before": "20", "after": "45"}
    ]
    refused = cli("prefs", "set", "idleSessionTimeout=45", "--region", EU)
    assert refused.exit_code == 2
    assert refused.stderr == (
        "ssmctl: error: refusing to change preferences without --yes when not on a terminal\n"
    )
    assert _versions(EU) == ("1", "1")


def _ssmctl(*args: str) -> PtyProcess:
    return PtyProcess([sys.executable, "-m", "ssmctl", *args], {**os.environ, "TERM": "xterm"})


def test_set_shows_the_diff_and_asks_on_a_terminal(cli: RunCli) -> None:
    cli("prefs", "init", "--region", BOTH)
    declined = _ssmctl("prefs", "set", "idleSessionTimeout=45", "--region", BOTH)
    screen = declined.expect("Apply these changes? [y/N]")
    assert f"{EU}: default version 1 -> new version 2" in screen
    assert "idleSessionTimeout  20 -> 45" in screen
    declined.send(b"n\r")
    assert declined.wait() == 130
    assert "Nothing changed." in declined.output.decode()
    assert _versions(EU) == _versions(AP) == ("1", "1")

    accepted = _ssmctl("prefs", "set", "idleSessionTimeout=45", "--region", BOTH, "-o", "text")
    accepted.expect("Apply these changes? [y/N]")
    accepted.send(b"y\r")
    assert accepted.wait() == 0
    lines = accepted.output.decode().replace("\r\n", "\n").splitlines()
    assert f"{EU}\tupdated\t2\t1\tidleSessionTimeout\t-" in lines
    assert _versions(EU) == _versions(AP) == ("2", "2")


def test_a_region_that_fails_gets_its_own_result(cli: RunCli) -> None:
    cli("prefs", "init", "--region", BOTH)
    child = _ssmctl("prefs", "set", "runAsEnabled=true", "--region", BOTH, "-o", "json")
    child.expect("Apply these changes? [y/N]")
    # Someone else changes ap-southeast-2 while the user reads the diff.
    _raw_update(AP, idleSessionTimeout="5")
    child.send(b"y\r")
    assert child.wait() == 1
    output = child.output.decode().replace("\r\n", "\n")
    rows = json.loads(output[output.index("\n[\n") : output.rindex("]") + 1])
    assert [(r["region"], r["result"]) for r in rows] == [(EU, "updated"), (AP, "failed")]
    assert "changed since it was read" in rows[1]["detail"]
    assert _versions(EU) == ("2", "2")
    assert _versions(AP) == ("1", "2")  # only the other tool's version


def test_a_region_that_cannot_be_read_stops_everything(cli: RunCli) -> None:
    result = cli("prefs", "set", "idleSessionTimeout=30", "--region", f"{EU},xx-nowhere-1", "--yes")
    assert result.exit_code == 1
    assert result.stderr.startswith("ssmctl: error: xx-nowhere-1: DescribeDocument")
    assert result.stderr.rstrip().endswith("; nothing changed in any region")
    assert _versions(EU) is None


_MINUTES = "must be a whole number of minutes from 1 to"
_MISSING_BUCKET = "s3BucketName 'ssmctl-no-such-bucket': no such S3 bucket (HeadBucket: 404)"
_EU_ONLY = "cloudWatchLogGroupName '/ssmctl/eu-only': no such CloudWatch Logs group in"


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("idleSessionTimeout=0", f"idleSessionTimeout {_MINUTES} 60; got '0'"),
        ("idleSessionTimeout=61", f"idleSessionTimeout {_MINUTES} 60; got '61'"),
        ("maxSessionDuration=1441", f"maxSessionDuration {_MINUTES} 1440; got '1441'"),
        ("idle=5", "unknown preference 'idle' (known: s3BucketName, s3KeyPrefix,"),
        ("kmsKeyId=x", "kmsKeyId must be a KMS key id, key ARN, alias/NAME or alias ARN; got 'x'"),
        (
            "s3BucketName=ssmctl-no-such-bucket",
            f"{EU}, {AP}: {_MISSING_BUCKET}; nothing changed in any region",
        ),
        (
            "cloudWatchLogGroupName=/ssmctl/eu-only",
            f"{AP}: {_EU_ONLY} {AP}; nothing changed in any region",
        ),
    ],
)
def test_bad_values_change_nothing_anywhere(cli: RunCli, assignment: str, message: str) -> None:
    logs = _client("logs", EU)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName="/ssmctl/eu-only")
    cli("prefs", "init", "--region", BOTH)
    result = cli("prefs", "set", assignment, "runAsEnabled=true", "--region", BOTH, "--yes")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"ssmctl: error: {message}"), result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert _versions(EU) == _versions(AP) == ("1", "1")


def test_latest_not_default_is_warned_about_and_fixed(cli: RunCli) -> None:
    cli("prefs", "init", "--region", EU)
    assert _raw_update(EU, idleSessionTimeout="5") == "2"
    assert _versions(EU) == ("1", "2")  # moto, like AWS, leaves the default behind
    shown = cli("prefs", "show", "--region", EU, "-o", "json")
    record = _json(shown)[0]
    assert record["preferences"]["idleSessionTimeout"] == "20"  # the default version's
    assert record["latest_changes"] == [{"key": "idleSessionTimeout", "before": "20", "after": "5"}]
    warning = (
        f"ssmctl: warning: {EU}: latest version 2 of {DOC} is not the default (1): the console "
        "and sessions without a document name use version 1, sessions that name the document "
        "use 2 (they differ in: idleSessionTimeout)"
    )
    assert shown.stderr.strip() == warning == f"ssmctl: warning: {EU}: {record['warning']}"

    fixed = cli("prefs", "set", "runAsEnabled=true", "--region", EU, "--yes", "-o", "json")
    assert _json(fixed)[0]["default_version"] == "3"
    assert "from the latest version 2, which is not the default:" in fixed.stderr
    assert _versions(EU) == ("3", "3")
    assert _content(EU)["inputs"]["idleSessionTimeout"] == "20"  # built on the default
    assert cli("prefs", "show", "--region", EU).stderr == ""


PREFS_YAML = """\
# Session Manager preferences for every region we use
preferences:
  idleSessionTimeout: 15
  maxSessionDuration: 480
  cloudWatchStreamingEnabled: true
  shellProfile:
    linux: exec bash -l
regions:
  ap-southeast-2:
    idleSessionTimeout: 10
"""


def test_apply_and_diff_across_two_regions(cli: RunCli, tmp_path: Path) -> None:
    prefs = tmp_path / "prefs.yaml"
    prefs.write_text(PREFS_YAML)
    cli("prefs", "init", "--region", EU)

    drift = cli("prefs", "diff", str(prefs), "--region", BOTH, "-o", "table")
    assert drift.exit_code == 5, drift.stderr
    assert drift.stdout.splitlines() == [
        f"{EU}: default version 1 -> new version 2",
        "  idleSessionTimeout          20 -> 15",
        "  maxSessionDuration          (not set) -> 480",
        "  shellProfile.linux          (not set) -> exec bash -l",
        f"{AP}: no {DOC} document -> new document, version 1",
        "  cloudWatchStreamingEnabled  false -> true",
        "  idleSessionTimeout          20 -> 10",
        "  maxSessionDuration          (not set) -> 480",
        "  shellProfile.linux          (not set) -> exec bash -l",
    ]
    records = json.loads(cli("prefs", "diff", str(prefs), "--region", BOTH, "-o", "json").stdout)
    assert [(r["region"], r["action"]) for r in records] == [(EU, "update"), (AP, "create")]

    applied = _json(cli("prefs", "apply", str(prefs), "--region", BOTH, "--yes", "-o", "json"))
    assert [(r["region"], r["result"], r["default_version"]) for r in applied] == [
        (EU, "updated", "2"),
        (AP, "created", "1"),
    ]
    assert _versions(EU) == ("2", "2") and _versions(AP) == ("1", "1")
    assert _content(AP)["inputs"]["idleSessionTimeout"] == "10"
    assert _content(EU)["inputs"]["maxSessionDuration"] == "480"

    clean = cli("prefs", "diff", str(prefs), "--region", BOTH, "-o", "json")
    assert clean.exit_code == 0, clean.stderr
    assert [r["action"] for r in json.loads(clean.stdout)] == ["none", "none"]
    again = _json(cli("prefs", "apply", str(prefs), "--region", BOTH, "--yes", "-o", "json"))
    assert [r["result"] for r in again] == ["unchanged", "unchanged"]

    # Someone edits the latest version without promoting it: drift; apply promotes a new
    # version restoring the file's preferences.
    _raw_update(EU, idleSessionTimeout="59")
    assert cli("prefs", "diff", str(prefs), "--region", BOTH).exit_code == 5
    fixed = _json(cli("prefs", "apply", str(prefs), "--region", EU, "--yes", "-o", "json"))
    assert fixed[0]["result"] == "updated" and _versions(EU) == ("4", "4")
    # The latest already says what the file says: apply only makes it the default.
    _raw_update(EU, idleSessionTimeout="58")
    back = _raw_update(EU, idleSessionTimeout="15")
    assert _versions(EU) == ("4", back)
    promoted = _json(cli("prefs", "apply", str(prefs), "--region", EU, "--yes", "-o", "json"))
    assert promoted[0]["result"] == "promoted" and _versions(EU) == (back, back)
    assert cli("prefs", "diff", str(prefs), "--region", BOTH).exit_code == 0


_NOTHING = "; nothing changed in any region"


@pytest.mark.parametrize(
    ("text", "message", "checked"),
    [
        (
            "preferences:\n  idleSessionTimeout: 61\n",
            f"2: idleSessionTimeout {_MINUTES} 60; got '61'",
            False,
        ),
        (
            "preferences:\n  maxSessionDuration: 30\n  bogus: true\n",
            "3: preferences: unknown preference 'bogus' (known: s3BucketName,",
            False,
        ),
        (
            "preferences:\n  idleSessionTimeout: [15\n",
            "3: invalid YAML: expected ',' or ']'",
            False,
        ),
        (
            f"preferences:\n  runAsEnabled: true\nregions:\n  {AP}:\n"
            "    s3BucketName: ssmctl-no-such-bucket\n",
            f"5: s3BucketName 'ssmctl-no-such-bucket' ({AP}): no such S3 bucket (HeadBucket: 404)",
            True,
        ),
    ],
)
def test_bad_files_name_the_line_and_change_nothing(
    cli: RunCli, tmp_path: Path, text: str, message: str, checked: bool
) -> None:
    cli("prefs", "init", "--region", BOTH)
    prefs = tmp_path / "prefs.yaml"
    prefs.write_text(text)
    expected = f"ssmctl: error: {prefs}:{message}"
    applied = cli("prefs", "apply", str(prefs), "--region", BOTH, "--yes")
    assert applied.exit_code == 2
    assert applied.stderr.startswith(expected), applied.stderr
    assert applied.stderr.rstrip().endswith(_NOTHING) == checked
    diffed = cli("prefs", "diff", str(prefs), "--region", BOTH)
    assert diffed.exit_code == 2
    assert diffed.stderr.startswith(expected) and _NOTHING not in diffed.stderr
    assert len(applied.stderr.splitlines()) == len(diffed.stderr.splitlines()) == 1
    assert _versions(EU) == _versions(AP) == ("1", "1")
