"""The official session-manager-plugin against the sandbox's data channel, run exactly as
`aws ssm start-session` runs it (protocol.md section 1): shell on a pty, port forwarding
in mux and basic mode, SSH-style stdio, and resuming after a dropped socket.

Skipped when `session-manager-plugin` is not on PATH.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from ssmctl.sandbox import Sandbox
from tests.ptyrun import PtyProcess

from .dc_client import session_record
from .helpers import Clients

PLUGIN = shutil.which("session-manager-plugin")
ENV_VAR = "AWS_SSM_START_SESSION_RESPONSE"
pytestmark = [
    pytest.mark.plugin,
    pytest.mark.skipif(PLUGIN is None, reason="session-manager-plugin is not on PATH"),
]
PROMPT = re.compile(rb"[$#] $")


def _version_greater(left: str, right: str) -> bool:
    width = max(len(left.split(".")), len(right.split(".")))

    def parts(text: str) -> list[int]:
        numbers = [int(p) for p in text.strip().split(".")]
        return numbers + [0] * (width - len(numbers))

    return parts(left) > parts(right)


def plugin_command(
    sandbox: Sandbox, response: Mapping[str, Any], params: Mapping[str, Any]
) -> tuple[list[str], dict[str, str]]:
    """argv and environment, as the AWS CLI builds them."""
    assert PLUGIN is not None
    version = subprocess.run(
        [PLUGIN, "--version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()
    env = sandbox.env(base=os.environ)
    body = json.dumps({k: response[k] for k in ("SessionId", "TokenValue", "StreamUrl")})
    if _version_greater(version, "1.2.497.0"):
        env[ENV_VAR] = body
        first = ENV_VAR
    else:
        first = body
    argv = [
        PLUGIN,
        first,
        sandbox.region,
        "StartSession",
        "",
        json.dumps(dict(params)),
        sandbox.endpoint_url,
    ]
    return argv, env


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def echo_server() -> Iterator[int]:
    """A threaded TCP echo server on loopback."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                conn, _ = listener.accept()
                threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        listener.close()


class Plugin:
    """The plugin on pipes (port modes), reading its stdout in a thread."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env
        )
        self.output = b""
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while chunk := os.read(self.proc.stdout.fileno(), 65536):
            with self._lock:
                self.output += chunk

    def expect(self, pattern: bytes, timeout: float = 30) -> re.Match[bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = re.search(pattern, self.output)
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{pattern!r} never appeared in {self.output!r}")

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(30)
        self._reader.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _round_trip(port: int, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(payload)
        received = b""
        while len(received) < len(payload):
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def test_shell_on_a_pty(sandbox: Sandbox, aws: Clients) -> None:
    params = {"Target": sandbox.node_id("web-1")}
    response = aws("ssm").start_session(**params)
    argv, env = plugin_command(sandbox, response, params)
    shell = PtyProcess(argv, env, cols=120, rows=40)
    try:
        shell.expect("$ " if os.geteuid() else "# ")
        shell.send(b"stty size; echo done-$((6*7))\r")
        shell.expect("done-42")
        assert "40 120" in shell.output.decode(errors="replace")
        shell.send(b"exit\r")
        shell.expect(f"Exiting session with sessionId: {response['SessionId']}.")
        assert shell.wait() == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            shell.proc.kill()
    assert sandbox.agent.wait_ended(response["SessionId"], 10)
    record = session_record(sandbox, response["SessionId"])
    assert record.status == "Terminated" and record.end_reason == "exit"


def test_shell_resumes_after_a_dropped_socket(sandbox: Sandbox, aws: Clients) -> None:
    params = {"Target": sandbox.node_id("web-2")}
    response = aws("ssm").start_session(**params)
    argv, env = plugin_command(sandbox, response, params)
    shell = PtyProcess(argv, env)
    try:
        shell.expect("$ " if os.geteuid() else "# ")
        shell.send(b"seq 1 3000 | tail -n 1\r")
        shell.expect("3000")
        assert sandbox.agent.drop_socket(response["SessionId"])
        # The plugin calls ResumeSession on the sandbox and dials again.
        shell.send(b"echo after-$((50+50))\r")
        shell.expect("after-100", timeout=30)
        assert session_record(sandbox, response["SessionId"]).status == "Connected"
        shell.send(b"exit\r")
        shell.expect("Exiting session with sessionId")
        assert shell.wait() == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            shell.proc.kill()
    events = [e["EventName"] for e in aws("cloudtrail").lookup_events()["Events"]]
    assert "ResumeSession" in events


@pytest.mark.parametrize("mode", ["mux", "basic"])
def test_port_forwarding(sandbox: Sandbox, aws: Clients, mode: str) -> None:
    ec2 = aws("ec2")
    target = sandbox.node_id("web-1")
    launched = None
    if mode == "basic":
        launched = ec2.run_instances(ImageId="ami-0a1b2c3d4e5f60718", MinCount=1, MaxCount=1)[
            "Instances"
        ][0]["InstanceId"]
        sandbox.register_instance(launched, agent_version="3.0.161.0")
        target = launched
    local = _free_port()
    try:
        with echo_server() as port:
            params = {
                "Target": target,
                "DocumentName": "AWS-StartPortForwardingSession",
                "Parameters": {"portNumber": [str(port)], "localPortNumber": [str(local)]},
            }
            response = aws("ssm").start_session(**params)
            plugin = Plugin(*plugin_command(sandbox, response, params))
            try:
                plugin.expect(rb"Port \d+ opened for sessionId " + response["SessionId"].encode())
                payload = os.urandom(256 * 1024)
                if mode == "mux":
                    results: list[bytes] = []
                    threads = [
                        threading.Thread(target=lambda: results.append(_round_trip(local, payload)))
                        for _ in range(4)
                    ]
                    for thread in threads:
                        thread.start()
                    for thread in threads:
                        thread.join(60)
                    assert results == [payload] * 4
                else:
                    for _ in range(3):  # one connection at a time
                        assert _round_trip(local, payload) == payload
                assert plugin.interrupt() == 0
                plugin.expect(rb"Terminate signal received, exiting\.")
            finally:
                plugin.kill()
            assert sandbox.agent.wait_ended(response["SessionId"], 10)
            record = session_record(sandbox, response["SessionId"])
            assert record.status == "Terminated"
    finally:
        if launched:
            ec2.terminate_instances(InstanceIds=[launched])


def test_ssh_session_forwards_stdio(sandbox: Sandbox, aws: Clients) -> None:
    with echo_server() as port:
        params = {
            "Target": sandbox.node_id("bastion"),
            "DocumentName": "AWS-StartSSHSession",
            "Parameters": {"portNumber": [str(port)]},
        }
        response = aws("ssm").start_session(**params)
        plugin = Plugin(*plugin_command(sandbox, response, params))
        try:
            assert plugin.proc.stdin is not None
            plugin.proc.stdin.write(b"through stdio\n")
            plugin.proc.stdin.flush()
            plugin.expect(rb"through stdio\n")
        finally:
            plugin.kill()
        aws("ssm").terminate_session(SessionId=response["SessionId"])
        assert sandbox.agent.wait_ended(response["SessionId"], 10)
