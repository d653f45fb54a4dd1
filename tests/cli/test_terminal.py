"""What a person at a terminal meets: the picker and the confirmation prompt."""

from __future__ import annotations

import os
import sys
from typing import Any

import boto3
import pytest

from ssmctl.sandbox import Sandbox
from tests.ptyrun import PtyProcess

pytestmark = pytest.mark.usefixtures("ssmctl_sandbox_env")


def _ssmctl(*args: str) -> PtyProcess:
    return PtyProcess([sys.executable, "-m", "ssmctl", *args], {**os.environ, "TERM": "xterm"})


def test_pick_filters_as_you_type(ssmctl_sandbox: Sandbox) -> None:
    child = _ssmctl("instances", "resolve", "web-*", "--pick", "-o", "text")
    screen = child.expect("2 instances match; type to filter")
    assert "web-1" in screen and "web-2" in screen
    child.send(b"web-2")
    child.expect("> web-2")
    child.send(b"\r")
    assert child.wait() == 0
    assert child.output.decode().rstrip().endswith(ssmctl_sandbox.node_id("web-2"))


def test_pick_with_arrows(ssmctl_sandbox: Sandbox) -> None:
    child = _ssmctl("instances", "resolve", "Role=web", "--pick", "-o", "text")
    child.expect("type to filter")
    child.send(b"\x1b[B")  # down: the second of web-1, web-2
    child.send(b"\r")
    assert child.wait() == 0
    assert child.output.decode().rstrip().endswith(ssmctl_sandbox.node_id("web-2"))


def test_pick_cancelled() -> None:
    child = _ssmctl("instances", "resolve", "web-*", "--pick")
    child.expect("type to filter")
    child.send(b"\x1b")
    assert child.wait() == 130
    assert "no instance picked" in child.output.decode()


def test_pick_needs_a_terminal(cli_process: Any) -> None:
    result = cli_process("instances", "resolve", "web-*", "--pick")
    assert result.exit_code == 2 and "--pick needs a terminal" in result.stderr


def _start(sandbox: Sandbox, name: str) -> str:
    ssm: Any = boto3.client("ssm")
    return str(ssm.start_session(Target=sandbox.node_id(name))["SessionId"])


def test_terminate_asks_first(ssmctl_sandbox: Sandbox) -> None:
    session = _start(ssmctl_sandbox, "db-1")
    child = _ssmctl("sessions", "terminate", session, "-o", "text")
    screen = child.expect("Terminate them? [y/N]")
    assert "About to terminate 1 session(s)" in screen and session in screen
    child.send(b"y\r")
    assert child.wait() == 0
    assert f"{session}\tus-east-1" in child.output.decode().replace("\r\n", "\n")


def test_terminate_declined_changes_nothing(ssmctl_sandbox: Sandbox) -> None:
    session = _start(ssmctl_sandbox, "db-1")
    child = _ssmctl("sessions", "terminate", session)
    child.expect("Terminate them? [y/N]")
    child.send(b"\r")
    assert child.wait() == 130
    assert "Nothing terminated." in child.output.decode()
    ssm: Any = boto3.client("ssm")
    active = ssm.describe_sessions(State="Active", Filters=[{"key": "SessionId", "value": session}])
    assert [s["SessionId"] for s in active["Sessions"]] == [session]
