"""`ssmctl forward` and `ssmctl proxy` end to end with the native engine."""

from __future__ import annotations

import os
import signal
import socket
from concurrent.futures import ThreadPoolExecutor

from tests.conftest import RunCli
from tests.e2e.background import Background
from tests.e2e.conftest import Sessions
from tests.native.destinations import (
    destination,
    download,
    echo_exchange,
    expected_digest,
    send_and_digest,
    source_bytes,
)


def test_mux_eight_concurrent_10_mb_connections_arrive_intact(sessions: Sessions) -> None:
    payloads = [os.urandom(10 << 20) for _ in range(8)]
    with destination("digest") as port:
        forward = Background("forward", "db-1", "--remote", str(port), "--engine", "native")
        ready = forward.json_line()  # stdout is a pipe: JSON
        assert ready["mode"] == "mux" and ready["remote_port"] == port
        assert ready["target"] == "db-1" and ready["local_host"] == "127.0.0.1"
        with ThreadPoolExecutor(8) as pool:
            answers = list(
                pool.map(lambda data: send_and_digest(ready["local_port"], data), payloads)
            )
        forward.signal(signal.SIGINT)
        status, _, stderr = forward.finish()
    assert answers == [expected_digest(data) for data in payloads]
    assert status == 0, stderr
    assert f"interrupted: terminated session {ready['session_id']}" in stderr
    record = sessions.ended(ready["session_id"])
    assert record.status == "Terminated"
    assert record.end_reason == "client_terminated"  # Flag 2 came first


def test_mux_downloads_that_the_destination_ends_first_arrive_intact(sessions: Sessions) -> None:
    # The destination hangs up right after its data: the agent used to close the stream's
    # relay while frames for it (and for other streams) were still being sent, and cut
    # the smux byte stream short ("smux frame version 213, expected 1").
    size = 256 << 10
    with destination("source") as port:
        forward = Background("forward", "db-1", "--remote", str(port), "--engine", "native")
        ready = forward.json_line()
        assert ready["mode"] == "mux"
        for round_ in range(8):
            seeds = [round_ * 8 + n for n in range(8)]
            with ThreadPoolExecutor(8) as pool:
                got = list(pool.map(lambda s: download(ready["local_port"], s, size), seeds))
            assert [len(g) for g in got] == [size] * 8
            assert got == [source_bytes(s, size) for s in seeds]
        forward.signal(signal.SIGINT)
        status, _, stderr = forward.finish()
    assert status == 0, stderr


def test_basic_mode_with_an_old_agent_serves_connections_in_turn(
    sessions: Sessions, old_agent: str
) -> None:
    conversations = [[f"{n}-{i}\n".encode() for i in range(300)] for n in range(3)]
    with destination("echo") as port:
        forward = Background("forward", old_agent, "--remote", str(port), "--engine", "native")
        ready = forward.json_line()
        assert ready["mode"] == "basic"
        answers = [echo_exchange(ready["local_port"], lines) for lines in conversations]
        forward.signal(signal.SIGINT)
        status, _, stderr = forward.finish()
    assert status == 0, stderr
    for lines, answer in zip(conversations, answers, strict=True):
        assert answer == b"".join(b"echo: " + line for line in lines)


def test_remote_host_and_the_human_line(sessions: Sessions) -> None:
    with destination("echo", host="127.0.0.2") as port:
        forward = Background(
            "forward", "bastion", "--host", "127.0.0.2", "--remote", str(port),
            "--engine", "native", "--output", "text",
        )  # fmt: skip
        line = forward.line()
        assert line.startswith("Forwarding 127.0.0.1:")
        assert f"-> 127.0.0.2:{port} via bastion (session " in line
        local = int(line.split()[1].split(":")[1])
        assert echo_exchange(local, [b"over there\n"]) == b"echo: over there\n"
        forward.signal(signal.SIGINT)
        status, _, _ = forward.finish()
    assert status == 0
    record = sessions.record(sessions.new()[0])
    assert record.document_name == "AWS-StartPortForwardingSessionToRemoteHost"
    assert record.parameters["host"] == ["127.0.0.2"]


def test_busy_local_port_starts_no_session(cli_process: RunCli, sessions: Sessions) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = cli_process(
            "forward", "db-1", "--remote", "80", "--local", str(port), "--engine", "native"
        )
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert sessions.new() == []


def test_proxy_carries_an_ssh_like_exchange(sessions: Sessions) -> None:
    with destination("ssh") as port:
        proxy = Background("proxy", "web-1", "--port", str(port), "--engine", "native")
        assert proxy.line() == "SSH-2.0-FarEndSSH_1.0\r\n"  # the server speaks first
        assert proxy.proc.stdin is not None
        for word in ("hello", "world"):
            proxy.proc.stdin.write(f"{word}\n".encode())
            proxy.proc.stdin.flush()
            assert proxy.line() == f"ok: {word}\n"
        proxy.proc.stdin.write(b"quit\n")  # the server hangs up: the session ends
        proxy.proc.stdin.flush()
        status, rest, stderr = proxy.finish()
    assert status == 0, stderr
    assert rest == ""  # stdout carries the forwarded bytes only
    record = sessions.ended(sessions.new()[0])
    assert record.document_name == "AWS-StartSSHSession"
    assert record.parameters["portNumber"] == [str(port)]
    assert record.end_reason == "exit"


def test_proxy_ends_the_session_on_sighup(sessions: Sessions) -> None:
    with destination("ssh") as port:
        proxy = Background("proxy", "web-1", "--port", str(port), "--engine", "native")
        proxy.line()
        proxy.signal(signal.SIGHUP)  # what ssh does to its ProxyCommand when it is done
        status, _, stderr = proxy.finish()
    assert status == 128 + signal.SIGHUP
    assert "SIGHUP" in stderr
    record = sessions.ended(sessions.new()[0])
    assert record.status == "Terminated" and record.end_reason == "terminated"
