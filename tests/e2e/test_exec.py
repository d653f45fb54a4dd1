"""`ssmctl exec` end to end: remote exit status, separate streams, pipes, --all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from ssmctl.sandbox import Sandbox
from tests.conftest import RunCli
from tests.e2e.background import Background
from tests.e2e.conftest import Sessions


def test_streams_are_separate_and_the_exit_status_is_the_remote_one(
    cli_process: RunCli, sessions: Sessions
) -> None:
    result = cli_process(
        "exec", "web-1", "--no-stdin", "--", "sh", "-c", "echo out; echo err >&2; exit 3"
    )
    assert result.exit_code == 3, result.stderr
    assert result.stdout == "out\n"
    assert result.stderr == "err\n"
    [session_id] = sessions.new()
    record = sessions.ended(session_id)
    assert record.status == "Terminated" and record.end_reason == "exit"
    assert record.document_name == "AWS-StartNonInteractiveCommand"


def test_arguments_are_quoted_for_the_remote_shell(cli_process: RunCli, sessions: Sessions) -> None:
    result = cli_process("exec", "web-1", "--no-stdin", "--", "printf", "[%s]", "a b", "$HOME;x")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "[a b][$HOME;x]"


def test_works_in_a_pipe(sessions: Sessions) -> None:
    piped = subprocess.run(
        [sys.executable, "-m", "ssmctl", "exec", "web-1", "--", "head", "-c", "12"],
        input=b"hello, pipe!and more",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == b"hello, pipe!"


def test_all_prefixes_every_line(cli_process: RunCli, sessions: Sessions) -> None:
    script = "echo one; printf 'two\\nthree'; echo bad >&2"
    result = cli_process("exec", "--tag", "Role=web", "--all", "--", "sh", "-c", script)
    assert result.exit_code == 0, result.stderr
    lines = sorted(result.stdout.splitlines())
    assert lines == [f"{n} | {w}" for n in ("web-1", "web-2") for w in ("one", "three", "two")]
    assert sorted(result.stderr.splitlines()) == ["web-1 | bad", "web-2 | bad"]


def test_all_exit_status_is_the_highest(
    cli_process: RunCli, sessions: Sessions, ssmctl_sandbox: Sandbox
) -> None:
    web_2 = ssmctl_sandbox.node_id("web-2")
    script = f'test "$AWS_SSM_INSTANCE_ID" = {web_2} && exit 5; exit 0'
    result = cli_process("exec", "web-*", "--all", "--", "sh", "-c", script)
    assert result.exit_code == 5, result.stderr


def test_all_counts_unreachable_instances_as_failures(
    cli_process: RunCli, sessions: Sessions
) -> None:
    # Env=dev: a stopped instance, one whose agent lost contact, one without an agent.
    result = cli_process("exec", "--tag", "Env=dev", "--all", "--", "true")
    assert result.exit_code == 3
    assert "legacy-1  | ssmctl: error: cannot take a session: SSM ping status ConnectionLost" in (
        result.stderr
    )
    assert len(result.stderr.splitlines()) == 3
    assert sessions.new() == []


def test_ambiguous_target_lists_candidates(cli_process: RunCli, sessions: Sessions) -> None:
    result = cli_process("exec", "web-*", "--", "true")
    assert result.exit_code == 3
    assert "web-* matches 2 instances" in result.stderr
    assert sessions.new() == []


def test_plugin_engine_is_refused(cli_process: RunCli, sessions: Sessions) -> None:
    result = cli_process("exec", "web-1", "--engine", "plugin", "--", "true")
    assert result.exit_code == 2
    assert "exec needs the native engine" in result.stderr


def test_command_is_required(cli_process: RunCli, sessions: Sessions) -> None:
    result = cli_process("exec", "web-1")
    assert result.exit_code == 2 and "give the command to run after --" in result.stderr
    result = cli_process("exec", "web-1", "uptime")
    assert result.exit_code == 2


def _remote_pids(marker: str) -> list[int]:
    """Local pids of the sandbox's processes whose command line holds `marker`."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def test_ctrl_c_ends_the_remote_command_and_the_session(sessions: Sessions) -> None:
    marker = f"sleep {4000 + os.getpid() % 1000}"
    running = Background("exec", "web-1", "--no-stdin", "--", "sh", "-c", f"echo up; {marker}")
    assert running.line() == "up\n"
    [session_id] = sessions.wait_new()
    assert _remote_pids(marker), "the remote command is not running"
    running.signal(signal.SIGINT)
    status, _, stderr = running.finish()
    assert status == 130, stderr
    record = sessions.ended(session_id)
    assert record.status == "Terminated" and record.end_reason == "terminated"
    assert _remote_pids(marker) == []


def test_a_closed_pipe_downstream_ends_the_session(sessions: Sessions) -> None:
    # `ssmctl exec ... | head -1`: once head has its line, nobody reads the rest.
    producer = subprocess.Popen(
        [sys.executable, "-m", "ssmctl", "exec", "web-1", "--no-stdin", "--", "yes"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert producer.stdout is not None
    assert producer.stdout.readline() == b"y\n"
    producer.stdout.close()
    status = producer.wait(timeout=30)
    assert producer.stderr is not None
    stderr = producer.stderr.read().decode()
    producer.stderr.close()
    assert status == 128 + signal.SIGPIPE, stderr
    assert "Traceback" not in stderr
    [session_id] = sessions.new()
    record = sessions.ended(session_id)
    assert record.status == "Terminated" and record.end_reason == "terminated"
