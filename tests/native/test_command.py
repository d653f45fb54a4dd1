"""Non-interactive commands through the native engine against the fake far end."""

from __future__ import annotations

import os

from tests.native.engine import EngineRun, run_session
from tests.native.fake_ssm import FakeSsm

DOC = "AWS-StartNonInteractiveCommand"


def _command(text: str) -> dict[str, list[str]]:
    return {"command": [text], "separateOutputStream": ["true"]}


def test_streams_are_separate_and_the_exit_status_travels(region: FakeSsm) -> None:
    outcome = run_session(region, DOC, _command("echo out; echo err >&2; exit 7"))
    assert outcome.error is None, outcome.error
    assert outcome.status == 7
    assert outcome.stdout == b"out\n"
    assert outcome.stderr == b"err\n"


def test_input_reaches_the_command_and_output_is_kept_whole(region: FakeSsm) -> None:
    # 300 KB of output in 1 KB messages, and input the command reads to its end.
    text = "head -c 11 | tr a-z A-Z; echo; seq 1 50000"
    outcome = run_session(region, DOC, _command(text), stdin=b"hello world and more")
    assert outcome.status == 0, outcome
    lines = outcome.stdout.decode().splitlines()
    assert lines[0] == "HELLO WORLD"
    assert lines[1:] == [str(n) for n in range(1, 50001)]
    session_id = next(iter(region.plans))
    assert not region.terminated(session_id)  # the far end closed the channel itself


def test_customer_message_is_shown(region: FakeSsm) -> None:
    outcome = run_session(region, DOC, _command("true"), customer_message="Be nice.\x1b[31m")
    assert outcome.status == 0
    assert "Be nice.\\x1b[31m" in outcome.notices


def test_without_separate_streams_there_is_no_exit_status(region: FakeSsm) -> None:
    outcome = run_session(region, DOC, {"command": ["echo merged >&2; exit 3"]})
    assert outcome.stdout == b"merged\n"
    assert outcome.error is not None
    assert "without the command's exit status" in str(outcome.error)
    assert getattr(outcome.error, "exit_status", None) == 4


def test_a_reader_that_leaves_ends_the_session(region: FakeSsm) -> None:
    # `ssmctl exec ... | head -3`: once nobody reads the output, the session is ended.
    response = region.start_session(
        Target="i-1", DocumentName=DOC, Parameters=_command("seq 1 100000000")
    )
    run = EngineRun(region, response, stdout_pipe=True).start()
    assert run.stdout_reader is not None
    assert os.read(run.stdout_reader, 6)
    os.close(run.stdout_reader)
    outcome = run.wait()
    assert isinstance(outcome.error, BrokenPipeError)
    assert region.terminated(run.session_id)
