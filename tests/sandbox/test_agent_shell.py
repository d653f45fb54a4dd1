"""The agent side behind shell and command sessions: real `sh` processes, driven over
real websockets by a client built from ssmctl.datachannel."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ssmctl.datachannel import PayloadType
from ssmctl.sandbox import Sandbox

from .dc_client import Client, Documents, run, session_record
from .helpers import Clients


@pytest.fixture
def ssm(aws: Clients) -> Any:
    return aws("ssm")


@pytest.fixture
def documents(ssm: Any) -> Iterator[Documents]:
    made = Documents(ssm)
    yield made
    made.delete_all()


def _history(ssm: Any, session_id: str) -> dict[str, Any]:
    found = ssm.describe_sessions(
        State="History", Filters=[{"key": "SessionId", "value": session_id}]
    )["Sessions"]
    assert len(found) == 1, found
    return dict(found[0])


def _active(ssm: Any, session_id: str) -> list[dict[str, Any]]:
    return list(
        ssm.describe_sessions(State="Active", Filters=[{"key": "SessionId", "value": session_id}])[
            "Sessions"
        ]
    )


def test_default_shell_runs_commands_resizes_and_ends_with_the_shell(
    sandbox: Sandbox, ssm: Any
) -> None:
    target = sandbox.node_id("web-1")
    response = ssm.start_session(Target=target)

    async def body() -> None:
        client = Client(sandbox, ssm, response)
        await client.open()
        start = await client.prompt()
        assert client.handshake is None  # Standard_Stream opens with output, no handshake
        assert _active(ssm, client.session_id)[0]["Status"] == "Connected"
        await client.size(132, 43)
        await client.send(b"stty size; echo TERM=$TERM; pwd; echo $HOME\r")
        end = await client.expect(b"\n", start=await client.expect(b"TERM=", start=start))
        await client.prompt(start=end)
        text = client.output.decode()
        assert "43 132" in text and "TERM=xterm-256color" in text
        workdir = str(sandbox.workdir("web-1"))
        assert text.count(workdir) >= 2  # cwd and HOME are the instance's own directory
        await client.send(b"exit 7\r")
        closed = await client.wait_closed()
        assert closed.session_id == client.session_id and closed.output == ""
        assert closed.destination_id == target
        await client.close()

    run(body())
    session = _history(ssm, response["SessionId"])
    assert session["Status"] == "Terminated" and "EndDate" in session
    assert session["Details"].startswith("The shell exited with status 7.")
    assert session_record(sandbox, response["SessionId"]).end_reason == "exit"


def test_output_is_chunked_without_splitting_utf8(sandbox: Sandbox, ssm: Any) -> None:
    response = ssm.start_session(Target=sandbox.node_id("web-1"))
    sizes: list[int] = []

    async def body() -> None:
        client = Client(sandbox, ssm, response)
        original = client._delivered

        async def spy(payload_type: int, payload: bytes) -> None:
            if payload_type == PayloadType.OUTPUT:
                sizes.append(len(payload))
                payload.decode("utf-8")  # every message decodes on its own
            await original(payload_type, payload)

        client._delivered = spy  # type: ignore[method-assign]
        await client.open()
        await client.prompt()
        # 3-byte characters, 5,000 of them on one line: cut into <= 1024-byte messages.
        await client.send(
            "i=0; while [ $i -lt 5000 ]; do printf '€'; i=$((i+1)); done; echo\r".encode()
        )
        await client.expect("€".encode() * 5000, timeout=20)
        await client.send(b"exit\r")
        await client.wait_closed()
        await client.close()

    run(body())
    assert max(sizes) <= 1024 and len(sizes) > 10


def test_ctrl_c_interrupts_the_foreground_command(sandbox: Sandbox, ssm: Any) -> None:
    response = ssm.start_session(Target=sandbox.node_id("web-1"))

    async def body() -> None:
        client = Client(sandbox, ssm, response)
        await client.open()
        start = await client.prompt()
        await client.send(b"sleep 30; echo not-interrupted\r")
        await client.expect(b"sleep 30", start=start)
        await asyncio.sleep(0.3)
        began = time.monotonic()
        await client.send(b"\x03")
        mark = len(client.output)
        await client.prompt(start=mark, timeout=5)
        await client.send(b"echo after-$((40+2))\r")
        await client.expect(b"after-42", start=mark, timeout=5)
        assert time.monotonic() - began < 5
        assert b"\nnot-interrupted" not in client.output  # only its echo
        await client.send(b"exit\r")
        await client.wait_closed()
        await client.close()

    run(body())


def test_shell_profile_runs_first(sandbox: Sandbox, ssm: Any, documents: Documents) -> None:
    prefs = documents.shell_preferences(
        shellProfile={"linux": "export GREETING=from-profile; cd /", "windows": ""}
    )
    response = ssm.start_session(Target=sandbox.node_id("web-2"), DocumentName=prefs)

    async def body() -> None:
        client = Client(sandbox, ssm, response)
        await client.open()
        await client.prompt()
        await client.send(b"echo $GREETING in $(pwd)\r")
        await client.expect(b"from-profile in /\r")
        await client.send(b"exit\r")
        await client.wait_closed()
        await client.close()

    run(body())


def test_interactive_command_runs_on_a_pty_without_handshake(sandbox: Sandbox, ssm: Any) -> None:
    response = ssm.start_session(
        Target=sandbox.node_id("db-1"),
        DocumentName="AWS-StartInteractiveCommand",
        Parameters={"command": ["printf 'name? '; read n; echo hello $n; test -t 0 && echo tty"]},
    )

    async def body() -> None:
        client = Client(sandbox, ssm, response)
        await client.open()
        await client.expect(b"name? ")
        await client.send(b"world\r")
        await client.expect(b"hello world\r\ntty")
        closed = await client.wait_closed()
        assert closed.output == "" and client.handshake is None
        await client.close()

    run(body())
    session = _history(ssm, response["SessionId"])
    assert session["Details"].startswith("The command exited with status 0.")


def test_non_interactive_command_merges_output_and_takes_stdin(sandbox: Sandbox, ssm: Any) -> None:
    response = ssm.start_session(
        Target=sandbox.node_id("web-1"),
        DocumentName="AWS-StartNonInteractiveCommand",
        Parameters={"command": ["read x; echo got $x; echo oops >&2; test -t 0 || echo no-tty"]},
    )

    async def body() -> None:
        client = Client(sandbox, ssm, response)
        await client.open()
        await asyncio.wait_for(client.handshake_complete.wait(), 10)
        assert client.handshake is not None
        assert client.handshake.session_type == "NonInteractiveCommands"
        assert client.handshake.agent_version == "3.3.0.0"
        linux = client.handshake.properties["linux"]
        assert linux["commands"].startswith("read x;")
        await client.size(100, 30)  # ignored
        await client.send(b"input\n")
        await client.wait_closed()
        assert client.output == b"got input\noops\nno-tty\n"
        assert client.stderr == b"" and client.exit_codes == []
        await client.close()

    run(body())


@pytest.mark.parametrize("code", [0, 3])
def test_non_interactive_command_with_separate_streams_sends_the_exit_code(
    sandbox: Sandbox, ssm: Any, documents: Documents, code: int
) -> None:
    separate = documents.create(
        {
            "schemaVersion": "1.0",
            "sessionType": "NonInteractiveCommands",
            "parameters": {"command": {"type": "String"}},
            "properties": {
                "linux": {
                    "commands": "{{ command }}",
                    "runAsElevated": False,
                    "separateOutputStream": True,
                }
            },
        }
    )
    response = ssm.start_session(
        Target=sandbox.node_id("web-1"),
        DocumentName=separate,
        Parameters={"command": [f"echo out; echo err >&2; echo more; exit {code}"]},
    )

    async def body() -> None:
        client = Client(sandbox, ssm, response)
        await client.open()
        await client.wait_closed()
        assert client.output == b"out\nmore\n" and client.stderr == b"err\n"
        assert client.exit_codes == [code]
        assert client.order[-1] == PayloadType.EXIT_CODE  # the exit code comes last
        await client.close()

    run(body())
    assert _history(ssm, response["SessionId"])["Details"].startswith(
        f"The command exited with status {code}."
    )


def test_a_document_the_agent_cannot_run_fails_the_session(
    sandbox: Sandbox, ssm: Any, documents: Documents
) -> None:
    broken = documents.create(
        {"schemaVersion": "1.0", "sessionType": "InteractiveCommands", "properties": {}}
    )
    response = ssm.start_session(Target=sandbox.node_id("web-1"), DocumentName=broken)

    async def body() -> None:
        client = Client(sandbox, ssm, response)
        await client.open()
        closed = await client.wait_closed()
        assert "no commands" in closed.output
        await client.close()

    run(body())
    session = _history(ssm, response["SessionId"])
    assert session["Status"] == "Failed" and "no commands" in session["Details"]
