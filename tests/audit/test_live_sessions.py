"""Auditing sessions that really ran through the sandbox's data channel: how each ended,
its transcript (CloudWatch streaming and the S3 upload), and exports with transcripts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from ssmctl.sandbox import Sandbox
from tests.audit.conftest import Clients
from tests.conftest import RunCli
from tests.sandbox.dc_client import Client, Documents, run

BUCKET = "ssmctl-sandbox-transcripts"  # the built-in fleet's preferences
TYPED = b"printf '\\033]0;owned\\007\\033[31mhello-audit\\033[0m\\n'"


@pytest.fixture
def documents(clients: Clients) -> Iterator[Documents]:
    made = Documents(clients("ssm"))
    yield made
    made.delete_all()


@pytest.fixture
def fast_clocks(sandbox: Sandbox) -> Iterator[None]:
    before = sandbox.agent.time_scale
    sandbox.agent.time_scale = 1 / 60
    yield
    sandbox.agent.time_scale = before


def _session(sandbox: Sandbox, ssm: Any, commands: list[bytes], end: Any, **params: Any) -> str:
    """A shell session: type `commands`, then `end(client)` ends it; returns its id."""
    response = ssm.start_session(Target=sandbox.node_id("web-1"), **params)

    async def body() -> None:
        client = Client(sandbox, ssm, response)
        await client.open()
        start = await client.prompt()
        for command in commands:
            await client.send(command + b"\r")
            start = await client.prompt(start=start + len(command))
        await end(client, response["SessionId"])
        await client.wait_closed(timeout=15)
        await client.close()

    run(body())
    assert sandbox.agent.wait_ended(response["SessionId"], 10)
    return str(response["SessionId"])


async def _exit(client: Client, _: str) -> None:
    await client.send(b"exit\r")


def _rows(cli: RunCli, *ids: str) -> dict[str, dict[str, Any]]:
    args = [arg for i in ids for arg in ("--session-id", i)]
    result = cli("audit", "sessions", "--since", "10m", *args, "-o", "json")
    assert result.exit_code == 0, result.stderr
    return {r["session_id"]: r for r in json.loads(result.stdout)}


@pytest.mark.usefixtures("unthrottled", "fast_clocks")
def test_how_real_sessions_ended_and_their_transcripts(
    sandbox: Sandbox, cli: RunCli, clients: Clients, documents: Documents
) -> None:
    alice, bob = clients("ssm"), clients("ssm", user="bob")
    exited = _session(sandbox, alice, [b"echo first line", TYPED], _exit)

    async def bob_terminates(_: Client, session_id: str) -> None:
        bob.terminate_session(SessionId=session_id)

    terminated = _session(sandbox, alice, [b"echo watched"], bob_terminates)

    async def wait_idle(_: Client, __: str) -> None:
        pass  # no input: the idle timeout (1 minute, a second with fast clocks) ends it

    prefs = documents.shell_preferences(idleSessionTimeout="1")
    idle = _session(sandbox, alice, [], wait_idle, DocumentName=prefs)
    rows = _rows(cli, exited, terminated, idle)
    assert rows[exited]["ended_by"] == "exit"
    assert rows[exited]["end_details"].startswith("The shell exited with status 0.")
    assert rows[exited]["status"] == "Terminated" and rows[exited]["duration_seconds"] >= 0
    assert rows[exited]["transcript"] == f"cloudwatch:///ssmctl/sandbox/sessions/{exited}"
    assert rows[exited]["logged"] is True and rows[exited]["transcript_bytes"] > 0
    assert rows[terminated]["ended_by"] == "terminated"
    assert rows[terminated]["terminated_by"] == sandbox.users["bob"].arn
    assert rows[idle]["ended_by"] == "idle timeout"
    assert rows[idle]["logged"] is False  # its document names no log group or bucket

    # The streaming log: ANSI already stripped by the agent, lines as typed.
    log = cli("audit", "log", exited)
    assert log.exit_code == 0, log.stderr
    assert "first line\n" in log.stdout and "hello-audit\n" in log.stdout
    # The S3 upload keeps the raw escapes: neutralised, unless --raw.
    s3 = ("--bucket", f"s3://{BUCKET}/sessions")
    plain = cli("audit", "log", exited, *s3)
    assert plain.stdout.startswith("Script started on ") and "hello-audit" in plain.stdout
    assert "\x1b" not in plain.stdout and "\x07" not in plain.stdout and "\r" not in plain.stdout
    raw = cli("audit", "log", exited, *s3, "--raw")
    assert "\x1b]0;owned\x07\x1b[31mhello-audit" in raw.stdout
    replay = cli("audit", "log", exited, "--replay", "--speed", "100")
    assert replay.exit_code == 0 and replay.stdout == log.stdout

    export = cli(
        "audit", "export", "--out", "-", "--what", "sessions", "--include-transcripts",
        "--since", "10m", "--session-id", exited, "--session-id", idle,
    )  # fmt: skip
    assert export.exit_code == 0, export.stderr
    records = {r["session_id"]: r for r in map(json.loads, export.stdout.splitlines())}
    assert "hello-audit" in records[exited]["transcript_text"]
    assert records[idle]["transcript_text"] is None
    assert "2 sessions" in export.stderr
