"""StartSession, DescribeSessions, TerminateSession, ResumeSession, and the session store."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ssmctl.sandbox import Sandbox
from ssmctl.sandbox.sessions import SessionStore

from .helpers import Clients, error_of

SESSION_ID = re.compile(r"^(?P<owner>.+)-(?P<suffix>[a-z0-9]{26})$")
Start = Callable[..., dict[str, Any]]


@pytest.fixture
def start(aws: Clients) -> Iterator[Start]:
    """start(user=..., **StartSession params); every session is terminated afterwards."""
    started: list[tuple[Any, str]] = []

    def start(user: str | None = None, region: str | None = None, **params: Any) -> dict[str, Any]:
        ssm = aws("ssm", user=user, region=region)
        response: dict[str, Any] = ssm.start_session(**params)
        started.append((ssm, response["SessionId"]))
        return response

    yield start
    for ssm, session_id in started:
        ssm.terminate_session(SessionId=session_id)


def _session(ssm: Any, session_id: str, state: str = "Active") -> dict[str, Any]:
    found = ssm.describe_sessions(State=state, Filters=[{"key": "SessionId", "value": session_id}])
    assert len(found["Sessions"]) == 1, found
    return dict(found["Sessions"][0])


def test_start_session_default_shell(sandbox: Sandbox, aws: Clients, start: Start) -> None:
    target = sandbox.node_id("web-1")
    before = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)
    response = start(Target=target, Reason="deploy hotfix")
    session_id = response["SessionId"]
    match = SESSION_ID.match(session_id)
    assert match and match["owner"] == "alice"
    assert re.fullmatch(
        rf"ws://127\.0\.0\.1:{sandbox.stream_port}/v1/data-channel/{session_id}"
        r"\?role=publish_subscribe&cell-number=[A-Za-z0-9_-]+",
        response["StreamUrl"],
    )
    assert 40 <= len(response["TokenValue"]) <= 300
    session = _session(aws("ssm"), session_id)
    assert session["Status"] == "Connecting" and session["Target"] == target
    assert session["DocumentName"] == "SSM-SessionManagerRunShell"
    assert session["Owner"] == sandbox.users["alice"].arn
    assert session["Reason"] == "deploy hotfix" and session["AccessType"] == "Standard"
    assert session["StartDate"] >= before and "EndDate" not in session


def test_tokens_are_fresh_and_one_time(sandbox: Sandbox, start: Start) -> None:
    first = start(Target=sandbox.node_id("web-1"))
    second = start(Target=sandbox.node_id("web-1"))
    assert first["TokenValue"] != second["TokenValue"]
    store = sandbox.sessions
    assert store.consume_token(first["SessionId"], "wrong") is None
    assert store.consume_token(first["SessionId"], second["TokenValue"]) is None
    opened = store.consume_token(first["SessionId"], first["TokenValue"])
    assert opened is not None and opened.session_id == first["SessionId"]
    assert store.consume_token(first["SessionId"], first["TokenValue"]) is None


def test_aws_owned_session_documents_exist(sandbox: Sandbox, aws: Clients) -> None:
    ssm = aws("ssm")
    for name in (
        "AWS-StartPortForwardingSession",
        "AWS-StartPortForwardingSessionToRemoteHost",
        "AWS-StartSSHSession",
        "AWS-StartInteractiveCommand",
        "AWS-StartNonInteractiveCommand",
    ):
        document = ssm.describe_document(Name=name)["Document"]
        assert document["DocumentType"] == "Session" and document["Owner"] == "Amazon"
        content = json.loads(ssm.get_document(Name=name)["Content"])
        assert content["schemaVersion"] == "1.0" and content["parameters"]
    remote = json.loads(
        ssm.get_document(Name="AWS-StartPortForwardingSessionToRemoteHost")["Content"]
    )
    assert set(remote["parameters"]) == {"host", "portNumber", "localPortNumber"}
    assert remote["properties"]["type"] == "LocalPortForwarding"


def test_start_with_documents_and_parameters(sandbox: Sandbox, aws: Clients, start: Start) -> None:
    target = sandbox.node_id("db-1")
    forward = start(
        Target=target,
        DocumentName="AWS-StartPortForwardingSession",
        Parameters={"portNumber": ["5432"], "localPortNumber": ["15432"]},
    )
    assert (
        _session(aws("ssm"), forward["SessionId"])["DocumentName"]
        == "AWS-StartPortForwardingSession"
    )
    arn = f"arn:aws:ssm:{sandbox.region}::document/AWS-StartSSHSession"
    assert start(Target=target, DocumentName=arn)["SessionId"]
    remote = start(
        Target=target,
        DocumentName="AWS-StartPortForwardingSessionToRemoteHost",
        Parameters={"host": ["db.internal.example"], "portNumber": ["3306"]},
    )
    assert remote["StreamUrl"]


@pytest.mark.parametrize(
    ("document", "parameters", "fragment"),
    [
        ("AWS-StartPortForwardingSession", {"port": ["80"]}, "port"),
        ("AWS-StartPortForwardingSession", {"portNumber": ["99999"]}, "portNumber"),
        ("AWS-StartPortForwardingSessionToRemoteHost", {"portNumber": ["80"]}, "host is required"),
        ("AWS-StartInteractiveCommand", {}, "command is required"),
    ],
)
def test_parameters_must_fit_the_document(
    sandbox: Sandbox, aws: Clients, document: str, parameters: dict[str, list[str]], fragment: str
) -> None:
    ssm = aws("ssm")
    code, message, _ = error_of(
        lambda: ssm.start_session(
            Target=sandbox.node_id("web-1"), DocumentName=document, Parameters=parameters
        )
    )
    assert code == "InvalidParameters" and fragment in message


def test_documents_that_cannot_start_a_session(
    sandbox: Sandbox, aws: Clients, start: Start
) -> None:
    ssm = aws("ssm")
    target = sandbox.node_id("web-1")
    session_doc = {
        "schemaVersion": "1.0",
        "description": "tail logs",
        "sessionType": "Standard_Stream",
        "inputs": {},
    }
    command_doc = {
        "schemaVersion": "2.2",
        "description": "echo",
        "mainSteps": [
            {"action": "aws:runShellScript", "name": "echo", "inputs": {"runCommand": ["echo hi"]}}
        ],
    }
    ssm.create_document(Name="Team-Shell", DocumentType="Session", Content=json.dumps(session_doc))
    ssm.create_document(Name="Team-Echo", DocumentType="Command", Content=json.dumps(command_doc))
    try:
        assert start(Target=target, DocumentName="Team-Shell")["SessionId"]
        for name in ("Team-Echo", "AWS-NoSuchDocument", "x"):
            code, _, _ = error_of(ssm.start_session, Target=target, DocumentName=name)
            assert code == "InvalidDocument", name
        other_account = "arn:aws:ssm:us-east-1:999999999999:document/Team-Shell"
        assert (
            error_of(lambda: ssm.start_session(Target=target, DocumentName=other_account))[0]
            == "InvalidDocument"
        )
    finally:
        ssm.delete_document(Name="Team-Shell")
        ssm.delete_document(Name="Team-Echo")


def test_targets_that_are_not_connected(sandbox: Sandbox, aws: Clients) -> None:
    ssm = aws("ssm")
    for target in (
        sandbox.node_id("legacy-1"),
        sandbox.node_id("batch-1"),
        sandbox.node_id("scratch-1"),
        sandbox.node_id("eu-web-1"),
        "i-0123456789abcdef0",
    ):
        code, message, _ = error_of(ssm.start_session, Target=target)
        assert (code, message) == ("TargetNotConnected", f"{target} is not connected.")


def test_reason_limits(sandbox: Sandbox, aws: Clients) -> None:
    loose = aws("ssm", validate=False)
    target = sandbox.node_id("web-1")
    for reason in ("x" * 257, "", "two\nlines"):
        code, _, _ = error_of(loose.start_session, Target=target, Reason=reason)
        assert code == "ValidationException", reason


def test_hybrid_nodes_and_assumed_roles(sandbox: Sandbox, aws: Clients) -> None:
    issued = aws("sts", user="bob").assume_role(
        RoleArn=sandbox.roles["ops"], RoleSessionName="oncall"
    )
    creds = issued["Credentials"]
    ssm = aws(
        "ssm", keys=(creds["AccessKeyId"], creds["SecretAccessKey"]), token=creds["SessionToken"]
    )
    response = ssm.start_session(Target=sandbox.node_id("nas-1"))
    try:
        assert SESSION_ID.match(response["SessionId"])["owner"] == "oncall"  # type: ignore[index]
        owner = _session(ssm, response["SessionId"])["Owner"]
        assert owner == f"arn:aws:sts::{sandbox.account_id}:assumed-role/ops/oncall"
    finally:
        ssm.terminate_session(SessionId=response["SessionId"])


def test_terminate_and_resume(sandbox: Sandbox, aws: Clients) -> None:
    ssm = aws("ssm")
    response = ssm.start_session(Target=sandbox.node_id("bastion"))
    session_id = response["SessionId"]
    resumed = ssm.resume_session(SessionId=session_id)
    assert resumed["SessionId"] == session_id and resumed["TokenValue"]
    assert resumed["TokenValue"] != response["TokenValue"] and resumed["StreamUrl"].startswith(
        "ws://127.0.0.1:"
    )
    # Only the newest token opens the session.
    assert sandbox.sessions.consume_token(session_id, response["TokenValue"]) is None
    assert ssm.terminate_session(SessionId=session_id)["SessionId"] == session_id
    ended = _session(ssm, session_id, "History")
    assert ended["Status"] == "Terminated" and ended["EndDate"] >= ended["StartDate"]
    assert not ssm.describe_sessions(
        State="Active", Filters=[{"key": "SessionId", "value": session_id}]
    )["Sessions"]
    after = ssm.resume_session(SessionId=session_id)
    assert after["TokenValue"] == "" and "StreamUrl" not in after
    assert sandbox.sessions.consume_token(session_id, resumed["TokenValue"]) is None
    # AWS documents no error for an unknown session: TerminateSession answers with the id.
    assert ssm.terminate_session(SessionId="nobody-0000")["SessionId"] == "nobody-0000"
    assert (
        error_of(lambda: ssm.resume_session(SessionId="nobody-0000"))[0] == "DoesNotExistException"
    )


def test_describe_sessions_filters_and_pages(sandbox: Sandbox, aws: Clients, start: Start) -> None:
    since = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    target = sandbox.node_id("web-2")
    mine = [start(Target=target)["SessionId"] for _ in range(3)]
    bobs = start(user="bob", Target=target)["SessionId"]
    ours = {*mine, bobs}
    ssm = aws("ssm")

    def listed(state: str, *extra: dict[str, str], **kwargs: Any) -> list[str]:
        # Only this test's sessions: others of the shared sandbox may match the filters too.
        filters = [{"key": "InvokedAfter", "value": since}, {"key": "Target", "value": target}]
        pages = ssm.get_paginator("describe_sessions").paginate(
            State=state, Filters=[*filters, *extra], **kwargs
        )
        return [s["SessionId"] for p in pages for s in p["Sessions"] if s["SessionId"] in ours]

    assert listed("Active") == [bobs, *reversed(mine)]  # newest first
    assert listed("Active", PaginationConfig={"PageSize": 1}) == [bobs, *reversed(mine)]
    assert listed("Active", {"key": "Owner", "value": sandbox.users["bob"].arn}) == [bobs]
    for key, value, expected in (
        ("Status", "Connecting", 4),
        ("Status", "Connected", 0),
        ("AccessType", "Standard", 4),
        ("InvokedBefore", since, 0),
        ("SessionId", bobs, 1),
    ):
        assert len(listed("Active", {"key": key, "value": value})) == expected, (key, value)
    ssm.terminate_session(SessionId=mine[0])
    assert listed("History") == [mine[0]]
    assert listed("Active") == [bobs, mine[2], mine[1]]


def test_describe_sessions_errors(aws: Clients) -> None:
    ssm, loose = aws("ssm"), aws("ssm", validate=False)
    filters = [{"key": "Target", "value": f"i-{n}"} for n in range(7)]
    code, message, _ = error_of(lambda: ssm.describe_sessions(State="Active", Filters=filters))
    assert code == "ValidationException" and "less than or equal to 6" in message
    code, message, _ = error_of(
        lambda: ssm.describe_sessions(State="Active", Filters=[{"key": "Colour", "value": "x"}])
    )
    assert code == "ValidationException" and "enum value set" in message
    assert error_of(lambda: ssm.describe_sessions(State="Dormant"))[0] == "ValidationException"
    assert (
        error_of(lambda: ssm.describe_sessions(State="Active", MaxResults=201))[0]
        == "ValidationException"
    )
    assert (
        error_of(lambda: loose.describe_sessions(State="Active", MaxResults=0))[0]
        == "ValidationException"
    )
    assert (
        error_of(lambda: ssm.describe_sessions(State="Active", NextToken="x.y"))[0]
        == "InvalidNextToken"
    )
    bad_date = [{"key": "InvokedAfter", "value": "yesterday"}]
    assert (
        error_of(lambda: ssm.describe_sessions(State="Active", Filters=bad_date))[0]
        == "ValidationException"
    )


def test_output_urls_and_limits_come_from_preferences(
    sandbox: Sandbox, aws: Clients, start: Start
) -> None:
    ssm = aws("ssm")
    prefs = {
        "schemaVersion": "1.0",
        "description": f"Session Manager preferences {uuid.uuid4()}",
        "sessionType": "Standard_Stream",
        "inputs": {
            "s3BucketName": "audit-bucket",
            "s3KeyPrefix": "sessions",
            "cloudWatchLogGroupName": "/ssm/sessions",
            "maxSessionDuration": "60",
        },
    }
    # The built-in fleet has preferences of its own: a new version, made the default.
    before = ssm.get_document(Name="SSM-SessionManagerRunShell")["DocumentVersion"]
    updated = ssm.update_document(
        Name="SSM-SessionManagerRunShell", Content=json.dumps(prefs), DocumentVersion="$LATEST"
    )["DocumentDescription"]["DocumentVersion"]
    ssm.update_document_default_version(Name="SSM-SessionManagerRunShell", DocumentVersion=updated)
    try:
        shell = start(Target=sandbox.node_id("web-1"))["SessionId"]
        session = _session(ssm, shell)
        assert session["OutputUrl"]["S3OutputUrl"].endswith(f"/sessions/{shell}.log")
        assert f"stream={shell}" in session["OutputUrl"]["CloudWatchOutputUrl"]
        assert session["MaxSessionDuration"] == "60"
        forward = start(Target=sandbox.node_id("web-1"), DocumentName="AWS-StartSSHSession")[
            "SessionId"
        ]
        assert "OutputUrl" not in _session(ssm, forward)  # port sessions are never logged
    finally:
        ssm.update_document_default_version(
            Name="SSM-SessionManagerRunShell", DocumentVersion=before
        )


class _Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now


def test_store_fails_sessions_nobody_connects_to_and_keeps_30_days_of_history() -> None:
    clock = _Clock()
    store = SessionStore(connect_timeout=300, clock=clock)
    common: dict[str, Any] = {
        "account_id": "111122223333",
        "region": "us-east-1",
        "target": "i-1",
        "owner": "arn:aws:iam::111122223333:user/alice",
        "caller_name": "alice",
        "document_name": "SSM-SessionManagerRunShell",
        "reason": None,
        "parameters": {},
        "stream_url": lambda sid: f"ws://127.0.0.1:1/{sid}",
    }
    waiting, token = store.create(**common)
    connected, _ = store.create(**common)
    store.set_status(connected.session_id, "Connected")
    clock.now += dt.timedelta(seconds=301)
    failed = store.get("111122223333", "us-east-1", waiting.session_id)
    assert failed is not None and failed.status == "Failed"
    assert failed.end == waiting.start + dt.timedelta(seconds=300)
    assert store.consume_token(waiting.session_id, token) is None
    assert [s.session_id for s in store.list("111122223333", "us-east-1", "Active")] == [
        connected.session_id
    ]
    assert [s.session_id for s in store.list("111122223333", "us-east-1", "History")] == [
        waiting.session_id
    ]
    assert store.list("111122223333", "eu-west-1", "History") == []
    clock.now += dt.timedelta(days=31)
    assert store.list("111122223333", "us-east-1", "History") == []
