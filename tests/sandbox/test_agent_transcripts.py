"""Session transcripts, as the agent writes them (protocol.md section 9): CloudWatch Logs
streaming events or a plain-text upload, and S3, by the session's preferences."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ssmctl.sandbox import Sandbox

from .dc_client import Client, Documents, run, session_record
from .helpers import Clients
from .test_agent_ports import echo, handshake, start_port_session, tcp_server

# The built-in fleet's preferences (default-fleet.yaml).
GROUP = "/ssmctl/sandbox/sessions"
BUCKET = "ssmctl-sandbox-transcripts"
SCRIPT_START = re.compile(
    r'^Script started on \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00:00 \[TERM="xterm-256color" '
    r'TTY="/dev/[^"]+" COLUMNS="\d+" LINES="\d+"\]\n'
)


@pytest.fixture
def ssm(aws: Clients) -> Any:
    return aws("ssm")


@pytest.fixture
def documents(ssm: Any) -> Iterator[Documents]:
    made = Documents(ssm)
    yield made
    made.delete_all()


def _shell(sandbox: Sandbox, ssm: Any, commands: list[bytes], **params: Any) -> str:
    """Run commands in a shell session to its end; returns the session id."""
    response = ssm.start_session(Target=sandbox.node_id("web-1"), **params)

    async def body() -> None:
        client = Client(sandbox, ssm, response)
        await client.open()
        start = await client.prompt()
        for command in commands:
            await client.send(command + b"\r")
            start = await client.prompt(start=start + len(command))
        await client.send(b"exit\r")
        await client.wait_closed()
        await client.close()

    run(body())
    assert sandbox.agent.wait_ended(response["SessionId"], 10)
    return str(response["SessionId"])


def _events(aws: Clients, group: str, stream: str) -> list[str]:
    found = aws("logs").get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    return [str(e["message"]) for e in found["events"]]


def _s3_text(aws: Clients, bucket: str, key: str) -> str:
    return str(aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode())


def _output_url(ssm: Any, session_id: str) -> dict[str, str]:
    found = ssm.describe_sessions(
        State="History", Filters=[{"key": "SessionId", "value": session_id}]
    )["Sessions"]
    return dict(found[0].get("OutputUrl") or {})


def test_default_preferences_stream_to_cloudwatch_and_upload_to_s3(
    sandbox: Sandbox, ssm: Any, aws: Clients
) -> None:
    session_id = _shell(
        sandbox, ssm, [b"echo hello transcript", b"printf '\\033[1;31mred\\033[0m\\n'"]
    )
    events = [json.loads(m) for m in _events(aws, GROUP, session_id)]
    assert events, "no streaming events"
    for event in events:
        assert list(event) == [
            "eventVersion",
            "eventTime",
            "awsRegion",
            "target",
            "userIdentity",
            "runAsUser",
            "sessionId",
            "sessionData",
        ]
        assert event["eventVersion"] == "1.0" and event["awsRegion"] == sandbox.region
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["eventTime"])
        assert event["target"] == {"id": sandbox.node_id("web-1")}
        assert event["userIdentity"] == {"arn": sandbox.users["alice"].arn}
        assert event["runAsUser"] == "ssm-user" and event["sessionId"] == session_id
    lines = [line for event in events for line in event["sessionData"]]
    assert "hello transcript" in lines and "red" in lines  # ANSI stripped
    assert not any("\r" in line or "\x1b" in line for line in lines)
    transcript = _s3_text(aws, BUCKET, f"sessions/{session_id}.log")
    assert SCRIPT_START.match(transcript)
    assert "hello transcript\r\n" in transcript and "\x1b[1;31mred\x1b[0m" in transcript
    assert re.search(r'\nScript done on [^\n]+ \[COMMAND_EXIT_CODE="0"\]\n$', transcript)
    urls = _output_url(ssm, session_id)
    assert urls["S3OutputUrl"].endswith(f"/sessions/{session_id}.log")
    assert f"stream={session_id}" in urls["CloudWatchOutputUrl"]


def test_without_streaming_cloudwatch_gets_the_plain_transcript_at_the_end(
    sandbox: Sandbox, ssm: Any, aws: Clients, documents: Documents
) -> None:
    group = f"/test/{uuid.uuid4().hex[:8]}"
    aws("logs").create_log_group(logGroupName=group)
    prefs = documents.shell_preferences(
        cloudWatchLogGroupName=group,
        cloudWatchStreamingEnabled=False,
        s3BucketName=BUCKET,
        runAsEnabled=True,
        runAsDefaultUser="deploy",
    )
    big = b"yes 0123456789abcdef0123456789abcdef0123456789abcdef | head -c 300000; echo"
    session_id = _shell(
        sandbox, ssm, [b"printf '\\033[32mgreen\\033[0m\\n'", big], DocumentName=prefs
    )
    messages = _events(aws, group, session_id)
    assert len(messages) >= 2  # over 200 KB: more than one event
    assert all(len(m.encode()) <= 200 * 1024 for m in messages)
    text = "".join(messages)
    assert SCRIPT_START.match(text) and "\x1b[32mgreen\x1b[0m" in text
    assert text.endswith('[COMMAND_EXIT_CODE="0"]\n')
    assert _s3_text(aws, BUCKET, f"{session_id}.log") == text  # no prefix: <id>.log
    assert set(_output_url(ssm, session_id)) == {"S3OutputUrl", "CloudWatchOutputUrl"}


def test_missing_destinations_are_skipped_and_said_so(
    sandbox: Sandbox, ssm: Any, documents: Documents
) -> None:
    prefs = documents.shell_preferences(
        cloudWatchLogGroupName="/no/such/group", s3BucketName="no-such-bucket-for-ssmctl"
    )
    session_id = _shell(sandbox, ssm, [b"echo nowhere"], DocumentName=prefs)
    record = session_record(sandbox, session_id)
    assert record.status == "Terminated" and record.end_reason == "exit"
    assert "log group /no/such/group does not exist" in record.details
    assert "bucket no-such-bucket-for-ssmctl does not exist" in record.details
    assert _output_url(ssm, session_id) == {}


def test_command_sessions_are_logged_and_port_sessions_never(
    sandbox: Sandbox, ssm: Any, aws: Clients
) -> None:
    command = ssm.start_session(
        Target=sandbox.node_id("web-2"),
        DocumentName="AWS-StartNonInteractiveCommand",
        Parameters={"command": ["echo logged output"]},
    )

    async def body() -> str:
        client = Client(sandbox, ssm, command)
        await client.open()
        await client.wait_closed()
        await client.close()
        async with tcp_server(echo) as port:
            forward = Client(sandbox, ssm, start_port_session(ssm, sandbox.node_id("web-2"), port))
            await forward.open()
            await handshake(forward)
            forward.start_smux()
            stream = await forward.open_stream()
            await forward.stream_write(stream, b"never logged")
            await forward.until(lambda: forward.streams[stream] == b"never logged")
            await forward.flag(2)
            await forward.close()
            return forward.session_id

    port_session = run(body())
    for session_id in (command["SessionId"], port_session):
        assert sandbox.agent.wait_ended(session_id, 10)
    transcript = _s3_text(aws, BUCKET, f"sessions/{command['SessionId']}.log")
    assert "logged output\n" in transcript and "<not executed on terminal>" in transcript
    streams = aws("logs").describe_log_streams(logGroupName=GROUP)["logStreams"]
    names = {s["logStreamName"] for s in streams}
    assert command["SessionId"] in names and port_session not in names
    keys = aws("s3").list_objects_v2(Bucket=BUCKET).get("Contents", [])
    assert not any(port_session in k["Key"] for k in keys)
    assert _output_url(ssm, port_session) == {}
