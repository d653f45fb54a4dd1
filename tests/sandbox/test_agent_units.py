"""The data channel's pure parts: session plans, transcripts, the fleet's session
preferences; and a canary for the moto internals session logging writes to."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest

from ssmctl.datachannel import Message, MessageType, PayloadType, Role
from ssmctl.datachannel.handshake import SessionType
from ssmctl.datachannel.payloads import Acknowledgement
from ssmctl.datachannel.versions import PortMode
from ssmctl.errors import ConfigError
from ssmctl.sandbox.agent.channel import AgentChannel
from ssmctl.sandbox.agent.plan import PlanError, SessionPlan, plan_session
from ssmctl.sandbox.agent.transcript import Identity, Transcript, event_chunks, strip_terminal
from ssmctl.sandbox.documents import AWS_SESSION_DOCUMENTS
from ssmctl.sandbox.fleet_parse import parse_fleet

DEFAULT = "SSM-SessionManagerRunShell"
SCRATCH = "999988887777"  # an account no sandbox uses


def plan(
    name: str,
    parameters: dict[str, list[str]] | None = None,
    *,
    content: dict[str, Any] | None = None,
    preferences: dict[str, Any] | None = None,
    agent_version: str = "3.3.0.0",
    platform: str = "Linux",
) -> SessionPlan:
    return plan_session(
        document_name=name,
        content=content if content is not None else AWS_SESSION_DOCUMENTS.get(name),
        parameters=parameters or {},
        preferences=preferences or {},
        agent_version=agent_version,
        platform_type=platform,
        default_document=DEFAULT,
    )


def test_the_default_shell_plan_and_its_preferences() -> None:
    shell = plan(DEFAULT, content=None)
    assert shell.session_type is SessionType.STANDARD_STREAM
    assert not shell.handshakes and shell.logged
    assert shell.idle_minutes == 20 and shell.max_minutes is None
    assert shell.run_as_user == "ssm-user" and shell.shell_profile == ""
    tuned = plan(
        DEFAULT,
        content=None,
        preferences={
            "idleSessionTimeout": "5",
            "maxSessionDuration": "90",
            "runAsEnabled": True,
            "runAsDefaultUser": "deploy",
            "shellProfile": {"linux": " cd /srv \n", "windows": "cd C:\\"},
        },
    )
    assert tuned.idle_minutes == 5 and tuned.max_minutes == 90
    assert tuned.run_as_user == "deploy" and tuned.shell_profile == "cd /srv"
    odd = plan(
        DEFAULT, content=None, preferences={"idleSessionTimeout": "x", "maxSessionDuration": "0"}
    )
    assert odd.idle_minutes == 20 and odd.max_minutes is None


def test_port_plans_substitute_parameters_and_pick_the_mode_by_agent_version() -> None:
    forward = plan("AWS-StartPortForwardingSession", {"portNumber": ["5432"]})
    assert forward.session_type is SessionType.PORT and forward.handshakes
    assert not forward.logged
    assert dict(forward.properties) == {
        "portNumber": "5432",
        "type": "LocalPortForwarding",
        "localPortNumber": "0",
    }
    assert forward.port_number == 5432 and forward.destination_host == "127.0.0.1"
    assert forward.port_mode is PortMode.MUX
    old = plan("AWS-StartPortForwardingSession", agent_version="3.0.196.0")
    assert old.port_mode is PortMode.BASIC and old.port_number == 80
    remote = plan(
        "AWS-StartPortForwardingSessionToRemoteHost",
        {"host": ["db.internal"], "portNumber": ["3306"]},
    )
    assert remote.destination_host == "db.internal" and remote.port_mode is PortMode.MUX
    ssh = plan("AWS-StartSSHSession")
    assert dict(ssh.properties) == {"portNumber": "22"} and ssh.port_mode is PortMode.STDIO
    bad = plan(
        "AWS-StartSSHSession",
        content={"sessionType": "Port", "properties": {"portNumber": "99999"}},
    )
    with pytest.raises(PlanError, match="portNumber"):
        _ = bad.port_number


def test_command_plans_take_the_platforms_block() -> None:
    command = plan("AWS-StartNonInteractiveCommand", {"command": ["uptime"]})
    assert command.session_type is SessionType.NON_INTERACTIVE_COMMANDS
    assert command.command == "uptime" and not command.separate_output and command.handshakes
    content = {
        "sessionType": "InteractiveCommands",
        "parameters": {"what": {"type": "String", "default": "linux-default"}},
        "properties": {
            "linux": {"commands": ["echo {{ what }}", "echo two"]},
            "macos": {"commands": "echo mac {{what}}", "separateOutputStream": "true"},
        },
    }
    assert plan("custom", content=content).command == "echo linux-default\necho two"
    mac = plan("custom", {"what": ["x"]}, content=content, platform="MacOS")
    assert mac.command == "echo mac x" and mac.separate_output
    windows = plan("custom", content=content, platform="Windows")
    assert windows.command.startswith("echo linux-default")  # no windows block: linux's
    with pytest.raises(PlanError, match="no commands"):
        _ = plan("custom", content={"sessionType": "InteractiveCommands"}).command
    with pytest.raises(PlanError, match="does not run"):
        plan("custom", content={"sessionType": "Telepathy"})
    with pytest.raises(PlanError, match="no longer exists"):
        plan("gone", content=None)


def test_terminal_text_for_streaming_events() -> None:
    raw = "\x1b[1;31mred\x1b[0m\r\n\x1b]0;title\x07$ \x1b(Bls\tdir\x08\r\n"
    assert strip_terminal(raw) == "red\n$ ls\tdir\n"
    transcript = Transcript(dt.datetime(2025, 6, 11, 7, 56, 17, tzinfo=dt.timezone.utc))
    # An escape sequence and a UTF-8 character cut across reads are held back whole.
    transcript.feed(b"one\r\ntwo \x1b[3")
    assert transcript.take_lines() == ["one", "two "]
    transcript.feed(b"2mgreen\x1b[0m \xe2\x82")
    assert transcript.take_lines() == ["green "]
    transcript.feed(b"\xac\r\n")
    assert transcript.take_lines() == ["€"]
    assert transcript.take_lines() == []
    identity = Identity("eu-west-1", "i-0123", "arn:aws:iam::1:user/a", "ssm-user", "a-1")
    event = json.loads(
        transcript.event(identity, ["x"], dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc))
    )
    assert event == {
        "eventVersion": "1.0",
        "eventTime": "2025-01-02T03:04:05Z",
        "awsRegion": "eu-west-1",
        "target": {"id": "i-0123"},
        "userIdentity": {"arn": "arn:aws:iam::1:user/a"},
        "runAsUser": "ssm-user",
        "sessionId": "a-1",
        "sessionData": ["x"],
    }


def test_the_plain_transcript_reads_like_script() -> None:
    started = dt.datetime(2025, 6, 11, 7, 56, 17, tzinfo=dt.timezone.utc)
    transcript = Transcript(started)
    transcript.feed(b"$ \x1b[1mls\x1b[0m\r\n")
    text = transcript.script(started + dt.timedelta(seconds=3), 0, 'TERM="xterm-256color"')
    assert text == (
        'Script started on 2025-06-11 07:56:17+00:00 [TERM="xterm-256color"]\n'
        "$ \x1b[1mls\x1b[0m\r\n"
        '\nScript done on 2025-06-11 07:56:20+00:00 [COMMAND_EXIT_CODE="0"]\n'
    )
    chunks = event_chunks("€" * 100_000, limit=1000)
    assert "".join(chunks) == "€" * 100_000
    assert all(len(c.encode()) <= 1000 for c in chunks)


FLEET = """\
users: [{name: alice}]
sessions: {time_scale: 0.5}
session_preferences:
  cloudWatchLogGroupName: /ssm/sessions
  cloudWatchStreamingEnabled: true
  s3BucketName: my-transcripts
  s3KeyPrefix: team
  idleSessionTimeout: 15
  maxSessionDuration: "120"
  runAsEnabled: false
  shellProfile: {linux: "echo hi"}
"""


def test_fleet_session_preferences_and_time_scale() -> None:
    fleet = parse_fleet(FLEET, "fleet.yaml")
    assert fleet.session_time_scale == 0.5
    assert fleet.session_preferences == {
        "cloudWatchLogGroupName": "/ssm/sessions",
        "cloudWatchStreamingEnabled": True,
        "s3BucketName": "my-transcripts",
        "s3KeyPrefix": "team",
        "idleSessionTimeout": "15",
        "maxSessionDuration": "120",
        "runAsEnabled": False,
        "shellProfile": {"linux": "echo hi", "windows": ""},
    }
    assert parse_fleet("users: [{name: alice}]", "f.yaml").session_preferences is None


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("session_preferences: {idleSessionTimeout: 61}", 2, "between 1 and 60"),
        ("session_preferences: {maxSessionDuration: soon}", 2, "whole number of minutes"),
        ("session_preferences: {s3BucketName: Not_A_Bucket}", 2, "is not valid"),
        ("session_preferences:\n  cloudWatchStreaming: true", 3, "unknown key"),
        ("session_preferences: {shellProfile: {bash: x}}", 2, "unknown key 'bash'"),
        ("sessions: {time_scale: 0}", 2, "sessions.time_scale must be between"),
    ],
)
def test_fleet_session_settings_errors_name_the_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_fleet("users: [{name: alice}]\n" + text, "fleet.yaml")
    assert str(info.value).startswith(f"fleet.yaml:{line}:") and fragment in str(info.value)


def test_moto_canary_for_session_logging() -> None:
    """moto internals ssmctl/sandbox/moto_logging.py relies on (adapt it if this fails)."""
    from ssmctl.sandbox import moto_access, moto_logging

    group, bucket = f"/canary/{uuid.uuid4().hex}", f"canary-{uuid.uuid4().hex[:12]}"
    assert not moto_logging.log_group_exists(SCRATCH, "us-east-1", group)
    assert not moto_logging.put_log_events(SCRATCH, "us-east-1", group, "s", [(1, "x")])
    moto_logging.create_log_group(SCRATCH, "us-east-1", group)
    moto_logging.create_log_group(SCRATCH, "us-east-1", group)  # exists: no error
    now = int(dt.datetime.now(dt.timezone.utc).timestamp() * 1000)
    assert moto_logging.put_log_events(SCRATCH, "us-east-1", group, "s", [(now, "a"), (now, "b")])
    from moto.logs.models import logs_backends

    logs: Any = logs_backends[SCRATCH]["us-east-1"]
    events, _, _ = logs.get_log_events(group, None, "s", None, None, 10, None, True)
    assert [e["message"] for e in events] == ["a", "b"]
    assert not moto_logging.put_object(SCRATCH, bucket, "k", b"x")
    moto_logging.create_bucket(SCRATCH, "us-east-1", bucket)
    assert moto_logging.put_object(SCRATCH, bucket, "a/b.log", b"body")
    from moto.s3.models import s3_backends

    stored = s3_backends[SCRATCH]["aws"].get_object(bucket, "a/b.log")
    assert stored is not None and stored.value == b"body"
    moto_logging.create_session_document(
        SCRATCH, "us-east-1", DEFAULT, {"schemaVersion": "1.0", "sessionType": "Standard_Stream"}
    )
    document = moto_access.ssm_document(SCRATCH, "us-east-1", DEFAULT)
    assert document is not None and document.document_type == "Session"
    assert document.default_content["sessionType"] == "Standard_Stream"


def _ack_for(channel: AgentChannel, seq: int) -> bytes:
    """The client's ack of the agent's stream message `seq`, on the wire."""
    return Message(
        MessageType.ACKNOWLEDGE,
        0,
        PayloadType.NONE,
        Acknowledgement(MessageType.OUTPUT_STREAM_DATA.value, str(uuid.uuid4()), seq).to_payload(),
    ).encode()


def test_messages_carried_over_a_reconnect_never_block_the_window() -> None:
    """A window full of messages whose acks were lost with a socket: the plugin never
    acks them again, so newer output must still flow, and its ack settles them."""
    channel = AgentChannel(Role.AGENT, window=4)
    for n in range(4):
        channel.send(PayloadType.OUTPUT, b"old %d" % n, 0.0)
    assert channel.window_available == 0
    channel.reattach(1.0)  # their acks were lost with the old socket
    assert channel.carried == 4
    assert channel.window_available == 4
    newer = channel.send(PayloadType.OUTPUT, b"new", 1.0)
    channel.receive(_ack_for(channel, newer), 1.1)
    assert (channel.carried, channel.unacked_count) == (0, 0)
    assert channel.window_available == 4
