"""Transcripts: where they are, reading them inert (or --raw), replay, follow."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid

import pytest

from ssmctl.audit.trail_files import S3Location
from ssmctl.audit.transcript_read import Chunk, follow_chunks, read_chunks, replay_delays
from ssmctl.audit.transcripts import (
    LogSettings,
    TranscriptLocation,
    candidates,
    cloudwatch_location,
    parse_preferences,
    s3_location,
)
from ssmctl.sandbox import Sandbox
from ssmctl.sanitize import transcript_safe
from tests.audit import records
from tests.audit.conftest import Clients
from tests.conftest import RunCli

UTC = dt.timezone.utc
HOSTILE = [
    "$ echo hi",
    "\x1b]0;owned title\x07\x1b[2J\x1b[31mred\x1b[0m",
    "=cmd|' /C calc'!A0",
    "[bold red]not markup[/]",
]


def _streaming_log(
    clients: Clients, session_id: str, lines: list[list[str]], start: dt.datetime
) -> str:
    """A CloudWatch log stream of streaming JSON events, one a second (protocol.md 9)."""
    group = f"/audit-test/{uuid.uuid4().hex[:8]}"
    logs = clients("logs")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=session_id)
    events = []
    for n, data in enumerate(lines):
        when = start + dt.timedelta(seconds=[0, 2, 62, 63][n % 4] + 100 * (n // 4))
        message = {
            "eventVersion": "1.0",
            "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "awsRegion": "us-east-1",
            "target": {"id": "i-0123456789abcdef0"},
            "userIdentity": {"arn": "arn:aws:iam::111122223333:user/alice"},
            "runAsUser": "ssm-user",
            "sessionId": session_id,
            "sessionData": data,
        }
        events.append({"timestamp": int(when.timestamp() * 1000), "message": json.dumps(message)})
    logs.put_log_events(logGroupName=group, logStreamName=session_id, logEvents=events)
    return group


def _plain_transcript(clients: Clients, session_id: str) -> str:
    """An S3 transcript as the agent uploads it at the end (`script` output, raw ANSI)."""
    bucket = f"transcripts-{uuid.uuid4().hex[:8]}"
    s3 = clients("s3")
    s3.create_bucket(Bucket=bucket)
    text = (
        'Script started on 2025-06-11 07:56:20+00:00 [TERM="xterm"]\r\n'
        "\x1b[01;32mssm-user@ip-10-0-1-11\x1b[00m$ sudo su\x08\x08 -\r\n"
        '\x1b]0;evil\x07=HYPERLINK("http://x")\r\n'
        'Script done on 2025-06-11 07:58:01+00:00 [COMMAND_EXIT_CODE="0"]\r\n'
    )
    s3.put_object(Bucket=bucket, Key=f"sessions/{session_id}.log", Body=text.encode())
    return bucket


def test_streaming_cloudwatch_transcript_is_inert_unless_raw(
    sandbox: Sandbox, cli: RunCli, clients: Clients
) -> None:
    sid = records.session_id("alice", 41)
    group = _streaming_log(clients, sid, [HOSTILE[:2], HOSTILE[2:]], dt.datetime.now(UTC))
    result = cli("audit", "log", sid, "--log-group", group)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "$ echo hi\nred\n=cmd|' /C calc'!A0\n[bold red]not markup[/]\n"
    assert f"# cloudwatch://{group}/{sid}" in result.stderr
    raw = cli("audit", "log", sid, "--log-group", group, "--raw")
    assert raw.stdout == "".join(line + "\n" for line in HOSTILE)
    rows = [
        json.loads(line)
        for line in cli(
            "audit", "log", sid, "--log-group", group, "-o", "jsonl"
        ).stdout.splitlines()
    ]
    assert [r["text"] for r in rows] == [
        "".join(x + "\n" for x in HOSTILE[:2]),
        "".join(x + "\n" for x in HOSTILE[2:]),
    ]
    assert rows[0]["time"].endswith("Z")


def test_plain_s3_transcript(sandbox: Sandbox, cli: RunCli, clients: Clients) -> None:
    sid = records.session_id("alice", 42)
    bucket = _plain_transcript(clients, sid)
    result = cli("audit", "log", sid, "--bucket", f"s3://{bucket}/sessions")
    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "ssm-user@ip-10-0-1-11$ sudo su\\x08\\x08 -\n" in result.stdout
    assert '=HYPERLINK("http://x")\n' in result.stdout
    assert "\r" not in result.stdout
    replay = cli("audit", "log", sid, "--bucket", f"s3://{bucket}/sessions", "--replay")
    assert "has no timing" in replay.stderr and replay.stdout == result.stdout
    follow = cli("audit", "log", sid, "--bucket", f"s3://{bucket}/sessions", "--follow")
    assert follow.exit_code == 0 and follow.stdout == result.stdout


def test_replay_waits_the_recorded_time(
    sandbox: Sandbox, cli: RunCli, clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    sid = records.session_id("alice", 43)
    group = _streaming_log(
        clients, sid, [["a"], ["b"], ["c"], ["d"]], dt.datetime.now(UTC) - dt.timedelta(hours=1)
    )
    waits: list[float] = []
    monkeypatch.setattr("ssmctl.cli.audit.time.sleep", waits.append)
    result = cli("audit", "log", sid, "--log-group", group, "--replay", "--speed", "2")
    assert result.exit_code == 0 and result.stdout == "a\nb\nc\nd\n"
    # Gaps of 2 s, 60 s and 1 s at double speed; the idle minute is shortened to 5 s.
    assert waits == [1.0, 2.5, 0.5]


def test_replay_delays() -> None:
    t = dt.datetime(2025, 1, 1, tzinfo=UTC)
    chunks = [Chunk("a", t), Chunk("b", None), Chunk("c", t + dt.timedelta(seconds=3))]
    assert [d for d, _ in replay_delays(chunks, speed=1.5, max_gap=10)] == [0.0, 0.0, 2.0]


def test_follow_prints_a_live_session_until_it_ends(sandbox: Sandbox, clients: Clients) -> None:
    sid = records.session_id("alice", 44)
    group = _streaming_log(clients, sid, [["first"]], dt.datetime.now(UTC))
    logs = clients("logs")
    ended = threading.Event()

    def session() -> None:
        for n in range(3):
            time.sleep(0.15)
            message = json.dumps(
                {"eventTime": "2025-01-01T00:00:00Z", "sessionData": [f"line {n}"]}
            )
            logs.put_log_events(
                logGroupName=group,
                logStreamName=sid,
                logEvents=[{"timestamp": int(time.time() * 1000), "message": message}],
            )
        ended.set()

    writer = threading.Thread(target=session)
    writer.start()
    location = TranscriptLocation("cloudwatch", group, sid, "us-east-1")
    texts = [
        c.text
        for c in follow_chunks(
            location,
            lambda service, region: clients(service, region=region),
            active=lambda: not ended.is_set(),
            poll=0.05,
            check_every=0.1,
        )
    ]
    writer.join()
    assert texts == ["first\n", "line 0\n", "line 1\n", "line 2\n"]


def test_follow_an_ended_session_prints_it_and_stops(
    sandbox: Sandbox, cli: RunCli, clients: Clients
) -> None:
    sid = clients("ssm").start_session(Target=sandbox.node_id("web-2"))["SessionId"]
    clients("ssm").terminate_session(SessionId=sid)
    group = _streaming_log(clients, sid, [["bye"]], dt.datetime.now(UTC))
    started = time.monotonic()
    result = cli("audit", "log", sid, "--log-group", group, "--follow")
    assert result.exit_code == 0 and result.stdout == "bye\n"
    assert time.monotonic() - started < 5


def test_missing_and_never_logged_transcripts(
    sandbox: Sandbox, cli: RunCli, clients: Clients
) -> None:
    port = clients("ssm").start_session(
        Target=sandbox.node_id("db-1"),
        DocumentName="AWS-StartPortForwardingSession",
        Parameters={"portNumber": ["5432"], "localPortNumber": ["15432"]},
    )["SessionId"]
    result = cli("audit", "log", port, "--log-group", "/nowhere")
    assert result.exit_code == 1
    assert (
        "AWS-StartPortForwardingSession session: Session Manager never logs those" in result.stderr
    )
    sid = records.session_id("alice", 45)
    missing = cli(
        "audit", "log", sid, "--log-group", "/nowhere", "--bucket", "s3://no-bucket-here/p"
    )
    assert missing.exit_code == 1
    assert (
        f"no transcript of {sid} at cloudwatch:///nowhere/{sid}, s3://no-bucket-here/p/{sid}.log"
        in missing.stderr
    )


def test_found_through_the_preferences_document(
    sandbox: Sandbox, cli: RunCli, clients: Clients
) -> None:
    region = "ap-southeast-2"
    ssm = clients("ssm", region=region)
    sid = records.session_id("alice", 46)
    bucket = _plain_transcript(clients, sid)
    content = json.dumps(
        {
            "schemaVersion": "1.0",
            "description": "prefs",
            "sessionType": "Standard_Stream",
            "inputs": {"s3BucketName": bucket, "s3KeyPrefix": "/sessions/"},
        }
    )
    name = "SSM-SessionManagerRunShell"
    try:
        before = ssm.describe_document(Name=name)["Document"]["DefaultVersion"]
    except ssm.exceptions.InvalidDocument:
        before = None
    if before is None:
        ssm.create_document(
            Name=name, Content=content, DocumentType="Session", DocumentFormat="JSON"
        )
    else:
        described = ssm.update_document(Name=name, Content=content, DocumentVersion="$LATEST")
        version = described["DocumentDescription"]["DocumentVersion"]
        ssm.update_document_default_version(Name=name, DocumentVersion=version)
    try:
        result = cli("audit", "log", sid, "--region", region)
    finally:
        if before is None:
            ssm.delete_document(Name=name)
        else:
            ssm.update_document_default_version(Name=name, DocumentVersion=before)
    assert result.exit_code == 0, result.stderr
    assert f"# s3://{bucket}/sessions/{sid}.log" in result.stderr
    assert "Script done on" in result.stdout


def test_locations() -> None:
    assert s3_location(
        "https://my-logs.s3.eu-west-1.amazonaws.com/prefix/alice-abc.log", "eu-west-1"
    ) == TranscriptLocation("s3", "my-logs", "prefix/alice-abc.log", "eu-west-1")
    assert s3_location("https://s3.eu-west-1.amazonaws.com/my-logs/a.log", "eu-west-1") == (
        TranscriptLocation("s3", "my-logs", "a.log", "eu-west-1")
    )
    url = (
        "https://console.aws.amazon.com/cloudwatch/home?region=us-east-1"
        "#logEventViewer:group=/ssm/sessions;stream=alice-abc"
    )
    assert cloudwatch_location(url, "us-east-1") == TranscriptLocation(
        "cloudwatch", "/ssm/sessions", "alice-abc", "us-east-1"
    )
    settings = parse_preferences(
        "schemaVersion: '1.0'\nsessionType: Standard_Stream\ninputs:\n"
        "  s3BucketName: b\n  s3KeyPrefix: p/\n  cloudWatchLogGroupName: g\n"
        "  cloudWatchStreamingEnabled: true\n  idleSessionTimeout: '15'\n"
    )
    assert settings == LogSettings("b", "p", "g", True, 15.0, None)
    assert parse_preferences("not a document") == LogSettings()
    places = candidates("s-1", "r", bucket=S3Location("x", "y"), settings=settings)
    # The options first, then the preferences (CloudWatch, which has timing, before S3).
    assert [p.url for p in places] == ["s3://x/y/s-1.log", "cloudwatch://g/s-1", "s3://b/p/s-1.log"]


def test_transcript_safe() -> None:
    assert transcript_safe("a\x1b[1;31mb\x1b[0m\r\nc\td\x1b]2;t\x1b\\e\x9b2Jf\x00\u202eg") == (
        "ab\nc\tdef\\x00\\u202eg"
    )


def test_read_chunks_of_a_missing_s3_transcript(clients: Clients, sandbox: Sandbox) -> None:
    from ssmctl.errors import TranscriptNotFound

    location = TranscriptLocation("s3", "no-such-bucket-x", "a.log", "us-east-1")
    with pytest.raises(TranscriptNotFound):
        list(read_chunks(location, lambda service, region: clients(service, region=region)))


def test_ctrl_c_stops_follow_cleanly(sandbox: Sandbox, clients: Clients) -> None:
    import os
    import signal
    import subprocess
    import sys

    sid = clients("ssm").start_session(Target=sandbox.node_id("bastion"))["SessionId"]
    group = _streaming_log(clients, sid, [["live output"]], dt.datetime.now(UTC))
    follow = subprocess.Popen(
        [sys.executable, "-m", "ssmctl", "audit", "log", sid, "--log-group", group, "--follow"],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follow.stdout is not None
        assert follow.stdout.readline() == "live output\n"
        follow.send_signal(signal.SIGINT)
        _, stderr = follow.communicate(timeout=20)
    finally:
        clients("ssm").terminate_session(SessionId=sid)
        if follow.poll() is None:
            follow.kill()
    assert follow.returncode == 130
    assert "interrupted" in stderr and "Traceback" not in stderr
