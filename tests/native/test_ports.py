"""Port forwarding through the native engine: smux, basic, stdio, refused destinations."""

from __future__ import annotations

import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ssmctl.datachannel import FlagCode
from tests.native.destinations import (
    destination,
    echo_exchange,
    expected_digest,
    send_and_digest,
)
from tests.native.engine import EngineRun
from tests.native.fake_ssm import FakeSsm

FORWARD = "AWS-StartPortForwardingSession"
OLD_AGENT = "3.0.161.0"


def _forward(region: FakeSsm, port: int, **plan: Any) -> EngineRun:
    response = region.start_session(
        Target="i-1", DocumentName=FORWARD, Parameters={"portNumber": [str(port)]}, **plan
    )
    run = EngineRun(region, response).start()
    assert run.ready.wait(10) and run.listening, run.outcome
    return run


def _stop(region: FakeSsm, run: EngineRun) -> None:
    region.terminate_session(run.session_id)  # the service closes the channel
    outcome = run.wait()
    assert outcome.error is None, outcome.error
    assert outcome.status == 0


def test_mux_carries_concurrent_connections_intact(region: FakeSsm) -> None:
    payloads = [os.urandom(512 << 10) for _ in range(8)]
    with destination("digest") as port:
        run = _forward(region, port)
        assert run.listening[0].mode == "mux"
        local = run.listening[0].port
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda data: send_and_digest(local, data), payloads))
        _stop(region, run)
    assert answers == [expected_digest(data) for data in payloads]


def test_basic_mode_serves_connections_one_after_another(region: FakeSsm) -> None:
    # Basic mode cannot half-close: each client reads its answers before hanging up.
    conversations = [[f"{n}-{i}-{'x' * 200}\n".encode() for i in range(500)] for n in range(3)]
    with destination("echo") as port:
        run = _forward(region, port, agent_version=OLD_AGENT)
        assert run.listening[0].mode == "basic"
        local = run.listening[0].port
        answers = [echo_exchange(local, lines) for lines in conversations]
        session = region.far_end.sessions[run.session_id]
        deadline = time.monotonic() + 10
        while session.flags.count(FlagCode.DISCONNECT_TO_PORT) < 3:  # the last one is async
            assert time.monotonic() < deadline, session.flags
            time.sleep(0.01)
        _stop(region, run)
    for lines, answer in zip(conversations, answers, strict=True):
        assert answer == b"".join(b"echo: " + line for line in lines)
    assert session.flags.count(FlagCode.DISCONNECT_TO_PORT) == 3


def test_mux_refused_destination_closes_that_connection(region: FakeSsm) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    run = _forward(region, closed_port)
    with socket.create_connection(("127.0.0.1", run.listening[0].port), timeout=10) as conn:
        conn.sendall(b"hello")
        assert conn.recv(100) == b""  # closed by ssmctl
    _stop(region, run)
    assert "Connection to destination port failed, check SSM Agent logs." in run.outcome.notices


def test_local_connections_send_without_waiting_for_delayed_acks() -> None:
    # Nagle's algorithm would hold a small write behind an unacknowledged one for the
    # peer's delayed ACK (about 40 ms on Linux): every request/response round trip.
    from ssmctl.engines.native import listen_socket

    listener = listen_socket(0)
    try:
        with socket.create_connection(listener.getsockname(), timeout=5):
            listener.setblocking(True)
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        listener.close()
