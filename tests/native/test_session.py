"""The native engine's session life: start-up, resume, refusal, termination."""

from __future__ import annotations

import time

import pytest

from ssmctl.datachannel.handshake import ActionStatus
from tests.native.engine import EngineRun, run_session
from tests.native.fake_ssm import FakeSsm

DOC = "AWS-StartNonInteractiveCommand"


def _command(text: str) -> dict[str, list[str]]:
    return {"command": [text], "separateOutputStream": ["true"]}


def test_shell_without_a_terminal(region: FakeSsm) -> None:
    # A script on stdin: its end becomes Ctrl-D, which ends the remote shell.
    outcome = run_session(region, stdin=b"echo hi-$((6 * 7))\n")
    assert outcome.error is None, outcome.error
    assert outcome.status == 0
    assert b"hi-42" in outcome.stdout
    session = region.far_end.sessions[next(iter(region.plans))]
    assert session.sizes[0] == (300, 100)  # no terminal: the wide default
    assert session.openings[0].client_version == "1.2.707.0"
    session_id = session.plan.session_id
    assert f"Exiting session with sessionId: {session_id}." in outcome.notices
    assert outcome.notices[:2] == ["", ""]
    assert not region.terminated(session_id)


def test_socket_dropped_mid_transfer_resumes_with_nothing_lost(region: FakeSsm) -> None:
    expected = "".join(f"{n}\n" for n in range(1, 60001)).encode()
    # Paced output (at least 1.2 s), so both drops land mid-transfer.
    text = "for i in $(seq 0 59); do seq $((i*1000+1)) $((i*1000+1000)); sleep 0.02; done"

    def drop_twice(run: EngineRun) -> None:
        session = region.far_end.session(run.session_id)
        for _ in range(2):
            deadline = time.monotonic() + 10
            before = len(session.openings)
            while session.link.channel.next_sequence_number < 50 * len(session.openings):
                assert time.monotonic() < deadline
                time.sleep(0.005)
            region.far_end.drop(run.session_id)
            while len(session.openings) == before:
                assert time.monotonic() < deadline, "the client did not come back"
                time.sleep(0.01)

    region.resume_failures = 1  # the first ResumeSession fails: it is tried again
    outcome = run_session(region, DOC, _command(text), during=drop_twice)
    assert outcome.error is None, outcome.error
    assert outcome.status == 0
    assert outcome.stdout == expected
    session_id = next(iter(region.plans))
    openings = region.far_end.sessions[session_id].openings
    assert len(openings) == 3
    assert len({o.client_id for o in openings}) == 1
    assert len({o.request_id for o in openings}) == 3
    assert len({o.token_value for o in openings}) == 3
    assert region.calls.count(("ResumeSession", session_id)) == 3


def test_a_session_that_ended_while_disconnected_is_not_resumed(region: FakeSsm) -> None:
    def end_while_away(run: EngineRun) -> None:
        session = region.far_end.session(run.session_id)
        region.far_end.silent.add("*")  # never reattach
        region.terminate_session(run.session_id)
        region.calls.pop()
        region.far_end.drop(run.session_id)
        assert session

    outcome = run_session(region, DOC, _command("sleep 30"), during=end_while_away)
    assert outcome.error is not None
    assert "has ended" in str(outcome.error)


def test_startup_timeout_terminates_the_session(region: FakeSsm) -> None:
    region.far_end.silent.add("*")
    started = time.monotonic()
    run = EngineRun(region, region.start_session(Target="i-1"), startup_timeout=0.5).start()
    outcome = run.wait()
    assert time.monotonic() - started < 5
    assert outcome.error is not None and getattr(outcome.error, "exit_status", 0) == 4
    message = str(outcome.error)
    assert "within 0.5 s" in message and "was terminated" in message
    assert region.terminated(run.session_id)


def test_unreachable_stream_url_fails_fast_and_terminates(region: FakeSsm) -> None:
    response = region.start_session(Target="i-1")
    response["StreamUrl"] = "ws://127.0.0.1:9/v1/data-channel/x"  # discard: refused
    outcome = EngineRun(region, response).start().wait()
    assert outcome.error is not None
    assert "cannot open the data channel" in str(outcome.error)
    assert "ws://127.0.0.1:9" in str(outcome.error)
    assert region.terminated(response["SessionId"])


def test_kms_is_refused_clearly(region: FakeSsm) -> None:
    outcome = run_session(region, DOC, _command("true"), kms_key_id="alias/ssm")
    assert outcome.error is not None
    assert "KMS" in str(outcome.error) and "--engine plugin" in str(outcome.error)
    session = region.far_end.sessions[next(iter(region.plans))]
    response = session.handshake_response
    assert response is not None
    statuses = {a.action_type: a.status for a in response.actions}
    assert statuses == {"SessionType": ActionStatus.SUCCESS, "KMSEncryption": ActionStatus.FAILED}


def test_token_is_never_shown(region: FakeSsm) -> None:
    response = region.start_session(Target="i-1")
    response["StreamUrl"] = "ws://127.0.0.1:9/v1/data-channel/x"
    outcome = EngineRun(region, response).start().wait()
    token = response["TokenValue"]
    for text in (str(outcome.error), repr(outcome.error), outcome.text):
        assert token not in text


@pytest.mark.parametrize("code", [0, 1, 255])
def test_exit_statuses(region: FakeSsm, code: int) -> None:
    assert run_session(region, DOC, _command(f"exit {code}")).status == code
