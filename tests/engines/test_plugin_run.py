"""run_plugin with pipes (no terminal): hand-off, signals, exit status, terminate, timeout.

These run in the test process itself; the terminal and signal tests that need a process
of their own are in test_plugin_signals.py and test_plugin_pty.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from ssmctl.engines import plugin as plugin_module
from ssmctl.engines.plugin import Plugin, run_plugin
from ssmctl.errors import PluginError

from .helpers import (
    ENDPOINT,
    OLD,
    REGION,
    REQUEST,
    RESPONSE,
    TOKEN,
    FakePlugin,
    Recorder,
    shell_plugin,
)
from .helpers import process_gone as gone

SESSION_ID = RESPONSE["SessionId"]
HANDLED = (
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGTSTP,
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGCHLD,
    signal.SIGWINCH,
    signal.SIGCONT,
)
has_proc = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")


@dataclasses.dataclass
class Run:
    status: int
    stdout: str
    stderr: str
    calls: Recorder


@pytest.fixture
def stdio(tmp_path: Path) -> Iterator[tuple[int, int, int]]:
    """/dev/null as stdin, files as stdout and stderr (never a terminal)."""
    fds = (
        os.open(os.devnull, os.O_RDONLY),
        os.open(tmp_path / "stdout", os.O_WRONLY | os.O_CREAT),
        os.open(tmp_path / "stderr", os.O_WRONLY | os.O_CREAT),
    )
    yield fds
    for fd in fds:
        os.close(fd)


def run(
    fake: FakePlugin,
    stdio: tuple[int, int, int],
    *,
    plugin: Plugin | None = None,
    profile: str | None = None,
    startup_timeout: float = 0,
    calls: Recorder | None = None,
    request: dict[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    **fake_env: str,
) -> Run:
    calls = calls or Recorder()
    status = run_plugin(
        plugin or fake.plugin(),
        RESPONSE,
        REQUEST if request is None else request,
        region=REGION,
        profile=profile,
        endpoint_url=ENDPOINT,
        terminate=calls.terminate,
        notice=calls.notice,
        startup_timeout=startup_timeout,
        env={**fake.env, **(env or {}), **fake_env},
        stdio=stdio,
    )
    out_dir = fake.record_path.parent
    return Run(
        status,
        (out_dir / "stdout").read_text(encoding="utf-8"),
        (out_dir / "stderr").read_text(encoding="utf-8"),
        calls,
    )


def assert_no_token(calls: Recorder, *texts: str) -> None:
    for text in (*calls.notices, *texts):
        assert TOKEN not in text


def test_new_plugin_contract(fake: FakePlugin, stdio: tuple[int, int, int]) -> None:
    result = run(fake, stdio)
    record = fake.record()
    assert record["args"] == [
        "AWS_SSM_START_SESSION_RESPONSE",
        REGION,
        "StartSession",
        "",
        json.dumps(REQUEST),
        ENDPOINT,
    ]
    assert record["response_source"] == "env"
    assert json.loads(record["env"]["AWS_SSM_START_SESSION_RESPONSE"]) == {
        "SessionId": SESSION_ID,
        "TokenValue": TOKEN,
        "StreamUrl": RESPONSE["StreamUrl"],
    }
    assert record["env"]["AWS_ACCESS_KEY_ID"] == "testing"  # the environment is inherited
    assert not any(TOKEN in arg for arg in record["args"])
    assert record["isatty"] == {"stdin": False, "stdout": False, "stderr": False}
    assert result.status == 0
    assert result.calls.notices == []
    assert_no_token(result.calls, result.stdout, result.stderr)


def test_explicit_profile_reaches_the_plugin(fake: FakePlugin, stdio: tuple[int, int, int]) -> None:
    run(fake, stdio, profile="prod-admin")
    assert fake.record()["args"][3] == "prod-admin"


def test_old_plugin_gets_the_json_and_a_warning(
    fake: FakePlugin, stdio: tuple[int, int, int]
) -> None:
    result = run(fake, stdio, plugin=fake.plugin(OLD))
    record = fake.record()
    assert len(record["args"]) == 6  # + argv[0]: the 7-element contract
    assert record["response_source"] == "argv"
    assert json.loads(record["args"][0])["TokenValue"] == TOKEN
    assert "AWS_SSM_START_SESSION_RESPONSE" not in record["env"]
    [warning] = result.calls.notices
    assert "1.2.463.0" in warning
    assert "(ps)" in warning
    assert "1.2.497.0" in warning
    assert_no_token(result.calls)


@has_proc
def test_keyboard_signals_ignored_while_running_and_restored_after(
    fake: FakePlugin, stdio: tuple[int, int, int]
) -> None:
    before = {signum: signal.getsignal(signum) for signum in HANDLED}
    run(fake, stdio)
    parent = fake.record()["parent_signals"]
    assert {"SIGINT", "SIGQUIT", "SIGTSTP"} <= set(parent["ignored"])
    assert {"SIGTERM", "SIGHUP", "SIGCHLD"} <= set(parent["caught"])
    assert {signum: signal.getsignal(signum) for signum in HANDLED} == before


def test_handlers_restored_after_a_failure(fake: FakePlugin, stdio: tuple[int, int, int]) -> None:
    before = {signum: signal.getsignal(signum) for signum in HANDLED}
    with pytest.raises(PluginError):
        run(fake, stdio, startup_timeout=0.3, FAKE_PLUGIN_MODE="silent")
    assert {signum: signal.getsignal(signum) for signum in HANDLED} == before


@pytest.mark.parametrize(
    ("fake_env", "status", "terminated"),
    [
        ({}, 0, 0),
        ({"FAKE_PLUGIN_EXIT": "3"}, 3, 1),
        ({"FAKE_PLUGIN_MODE": "signal", "FAKE_PLUGIN_SIGNAL": "9"}, 128 + 9, 1),
        ({"FAKE_PLUGIN_MODE": "signal", "FAKE_PLUGIN_SIGNAL": "15"}, 128 + 15, 1),
        ({"FAKE_PLUGIN_OUTPUT": ""}, 0, 1),  # exited 0 but showed nothing
        ({"FAKE_PLUGIN_BANNER": "1", "FAKE_PLUGIN_OUTPUT": ""}, 0, 1),  # only the banner
        ({"FAKE_PLUGIN_BANNER": "1"}, 0, 0),
        # The real plugin exits 0 when it cannot reach the session.
        (
            {"FAKE_PLUGIN_BANNER": "1", "FAKE_PLUGIN_OUTPUT": "Cannot perform start session: EOF"},
            0,
            1,
        ),
    ],
    ids=["clean", "exit-3", "sigkill", "sigterm", "silent", "banner-only", "banner", "cannot"],
)
def test_exit_status_and_when_the_session_is_terminated(
    fake: FakePlugin,
    stdio: tuple[int, int, int],
    fake_env: dict[str, str],
    status: int,
    terminated: int,
) -> None:
    result = run(fake, stdio, env=fake_env)
    assert result.status == status
    assert result.calls.terminated == terminated


def test_output_is_copied_to_the_right_stream(
    fake: FakePlugin, stdio: tuple[int, int, int]
) -> None:
    result = run(fake, stdio, FAKE_PLUGIN_OUTPUT="to stdout", FAKE_PLUGIN_STDERR="to stderr")
    assert result.stdout == "to stdout\n"
    assert result.stderr == "to stderr\n"


def test_startup_timeout_stops_the_plugin_and_terminates(
    fake: FakePlugin, stdio: tuple[int, int, int], tmp_path: Path
) -> None:
    pid_file = tmp_path / "pid"
    plugin = shell_plugin(tmp_path, f"echo $$ > {pid_file}; exec sleep 30")
    calls = Recorder()
    started = time.monotonic()
    with pytest.raises(PluginError) as info:
        run(fake, stdio, plugin=plugin, startup_timeout=0.5, calls=calls)
    elapsed = time.monotonic() - started
    message = str(info.value)
    assert "showed nothing within 0.5 s" in message
    assert f"session {SESSION_ID} was terminated" in message
    assert calls.terminated == 1
    assert 0.5 <= elapsed < 3
    assert gone(int(pid_file.read_text(encoding="utf-8")))
    assert_no_token(calls, message)


def test_startup_timeout_with_the_fake(fake: FakePlugin, stdio: tuple[int, int, int]) -> None:
    calls = Recorder()
    with pytest.raises(PluginError, match=r"showed nothing within 0\.5 s"):
        run(fake, stdio, startup_timeout=0.5, calls=calls, FAKE_PLUGIN_MODE="silent")
    assert calls.terminated == 1


def test_the_banner_alone_does_not_end_the_startup_phase(
    fake: FakePlugin, stdio: tuple[int, int, int], tmp_path: Path
) -> None:
    banner = f"printf '\\nStarting session with SessionId: {SESSION_ID}\\n'"
    plugin = shell_plugin(tmp_path, f"{banner}; exec sleep 30")
    calls = Recorder()
    with pytest.raises(PluginError, match="showed nothing"):
        run(fake, stdio, plugin=plugin, startup_timeout=0.5, calls=calls)
    assert calls.terminated == 1
    banner_shown = (tmp_path / "stdout").read_text(encoding="utf-8")
    assert banner_shown == f"\nStarting session with SessionId: {SESSION_ID}\n"


def test_plugin_ignoring_sigterm_is_killed(
    fake: FakePlugin, stdio: tuple[int, int, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugin_module, "STOP_GRACE", 0.2)
    pid_file = tmp_path / "pid"
    plugin = shell_plugin(tmp_path, f"trap '' TERM; echo $$ > {pid_file}; exec sleep 30")
    calls = Recorder()
    started = time.monotonic()
    with pytest.raises(PluginError, match="showed nothing"):
        run(fake, stdio, plugin=plugin, startup_timeout=0.3, calls=calls)
    assert time.monotonic() - started >= 0.3 + 0.2  # SIGTERM did nothing; SIGKILL did
    assert gone(int(pid_file.read_text(encoding="utf-8")))
    assert calls.terminated == 1


def test_output_ends_the_startup_phase(
    fake: FakePlugin, stdio: tuple[int, int, int], tmp_path: Path
) -> None:
    plugin = shell_plugin(tmp_path, "echo '$ '; sleep 0.8")
    result = run(fake, stdio, plugin=plugin, startup_timeout=0.3)
    assert result.status == 0
    assert result.stdout == "$ \n"
    assert result.calls.terminated == 0


@pytest.mark.parametrize("kind", ["vanished", "not executable"])
def test_exec_failure_terminates_the_session(
    fake: FakePlugin, stdio: tuple[int, int, int], tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "session-manager-plugin-gone"
    if kind == "not executable":
        path.write_text("#!/bin/sh\n", encoding="utf-8")
        path.chmod(0o644)
    calls = Recorder()
    plugin = Plugin(str(path), fake.plugin().source, OLD)  # old: the token is in argv
    with pytest.raises(PluginError) as info:
        run(fake, stdio, plugin=plugin, calls=calls)
    message = str(info.value)
    assert str(path) in message
    assert f"session {SESSION_ID} was terminated" in message
    assert calls.terminated == 1
    assert_no_token(calls, message, repr(info.value))


def test_missing_target_is_refused_before_running(
    fake: FakePlugin, stdio: tuple[int, int, int]
) -> None:
    calls = Recorder()
    with pytest.raises(PluginError, match="no Target"):
        run(fake, stdio, calls=calls, request={"DocumentName": "AWS-StartSSHSession"})
    assert not fake.record_path.exists()
    assert calls.terminated == 1


def test_terminate_failure_does_not_mask_the_timeout(
    fake: FakePlugin, stdio: tuple[int, int, int]
) -> None:
    calls = Recorder(fail_with=RuntimeError("AccessDenied: not allowed"))
    with pytest.raises(PluginError) as info:
        run(fake, stdio, startup_timeout=0.3, calls=calls, FAKE_PLUGIN_MODE="silent")
    assert "showed nothing" in str(info.value)
    assert "may still be open" in str(info.value)
    [note] = calls.notices
    assert note == f"could not terminate session {SESSION_ID}: AccessDenied: not allowed"


def test_terminate_failure_after_a_failed_run_is_a_notice(
    fake: FakePlugin, stdio: tuple[int, int, int]
) -> None:
    calls = Recorder(fail_with=RuntimeError("throttled"))
    result = run(fake, stdio, calls=calls, FAKE_PLUGIN_EXIT="5")
    assert result.status == 5
    assert calls.terminated == 1
    assert calls.notices == [f"could not terminate session {SESSION_ID}: throttled"]


def test_windows_is_refused_clearly(
    fake: FakePlugin, stdio: tuple[int, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugin_module, "_POSIX", False)
    calls = Recorder()
    with pytest.raises(PluginError, match="needs Linux or macOS"):
        run(fake, stdio, calls=calls)
    assert calls.terminated == 1
    assert not fake.record_path.exists()


def test_must_run_in_the_main_thread(fake: FakePlugin, stdio: tuple[int, int, int]) -> None:
    calls = Recorder()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            run(fake, stdio, calls=calls)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    assert isinstance(errors[0], RuntimeError)
    assert calls.terminated == 1


def test_fake_plugin_rejects_a_missing_target_like_the_real_one(fake: FakePlugin) -> None:
    argv = [str(fake.path), "AWS_SSM_START_SESSION_RESPONSE", REGION, "StartSession", "", "{}"]
    done = subprocess.run([*argv, ENDPOINT], capture_output=True, env=fake.env, check=False)
    assert done.returncode == 2
