"""Shared pieces for the plugin engine tests: the fake plugin on a temp dir, a sample
session, recorders for terminate/notice, and a runner for the out-of-process driver."""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ssmctl.engines.plugin import Plugin, PluginSource

FAKE_SCRIPT = Path(__file__).resolve().parents[1] / "fakes" / "session-manager-plugin"
DRIVER = Path(__file__).resolve().with_name("plugin_driver.py")

TOKEN = "SECRET-TOKEN-3f9c0a"
RESPONSE: dict[str, Any] = {
    "SessionId": "alice-0123456789abcdef0",
    "TokenValue": TOKEN,
    "StreamUrl": "wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/"
    "alice-0123456789abcdef0?role=publish_subscribe&cell-number=AAEAAQ",
    "ResponseMetadata": {"HTTPStatusCode": 200},
}
REQUEST: dict[str, Any] = {"Target": "i-0123456789abcdef0"}
REGION = "us-east-1"
ENDPOINT = "https://ssm.us-east-1.amazonaws.com"
NEW = (1, 2, 707, 0)
OLD = (1, 2, 463, 0)


def install_fake_plugin(directory: Path) -> Path:
    """Put an executable `session-manager-plugin` in `directory` that runs the fake with
    this interpreter (hermetic: no python3 from PATH involved)."""
    wrapper = directory / "session-manager-plugin"
    wrapper.write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(FAKE_SCRIPT))} "$@"\n',
        encoding="utf-8",
    )
    wrapper.chmod(0o755)
    return wrapper


def shell_plugin(directory: Path, body: str, version: tuple[int, ...] = NEW) -> Plugin:
    """A plugin that is a tiny sh script: it starts in milliseconds even on a loaded
    machine, for tests whose timing must not depend on Python's start-up."""
    path = directory / "sh-plugin"
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(0o755)
    return Plugin(str(path), PluginSource.CONFIG, version)


@dataclasses.dataclass
class FakePlugin:
    """The fake installed in a temp dir, with the environment run_plugin should pass it."""

    path: Path
    record_path: Path
    env: dict[str, str]

    def plugin(self, version: tuple[int, ...] = NEW) -> Plugin:
        return Plugin(str(self.path), PluginSource.PATH, version)

    def record(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.record_path.read_text(encoding="utf-8"))
        return data

    def wait_for_record(
        self, check: Callable[[dict[str, Any]], bool], timeout: float = 5
    ) -> dict[str, Any]:
        """Poll the record until `check` accepts it."""
        deadline = time.monotonic() + timeout
        while True:
            if self.record_path.exists():
                try:
                    data = self.record()
                except ValueError:
                    data = {}
                if data and check(data):
                    return data
            if time.monotonic() > deadline:
                raise AssertionError(f"fake plugin record never matched: {check}")
            time.sleep(0.02)


@dataclasses.dataclass
class Recorder:
    """Stands in for TerminateSession and the CLI's notice output."""

    terminated: int = 0
    notices: list[str] = dataclasses.field(default_factory=list)
    fail_with: Exception | None = None

    def terminate(self) -> None:
        self.terminated += 1
        if self.fail_with is not None:
            raise self.fail_with

    def notice(self, line: str) -> None:
        self.notices.append(line)


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def start_driver(
    fake: FakePlugin,
    tmp_path: Path,
    *,
    version: tuple[int, ...] = NEW,
    startup_timeout: float = 0,
    controlling_tty: bool = False,
    extra_env: Mapping[str, str] | None = None,
    **popen: Any,
) -> tuple[subprocess.Popen[bytes], Path]:
    """Run plugin_driver.py (run_plugin in a process of its own) with the fake plugin.

    Returns the process and the path its result JSON will be written to.
    """
    result = tmp_path / "driver-result.json"
    config = {
        "plugin": str(fake.path),
        "version": list(version),
        "response": RESPONSE,
        "request": REQUEST,
        "region": REGION,
        "endpoint": ENDPOINT,
        "startup_timeout": startup_timeout,
        "env": {**fake.env, **(extra_env or {})},
        "result": str(result),
        "controlling_tty": controlling_tty,
    }
    config_path = tmp_path / "driver-config.json"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, str(DRIVER), str(config_path)], start_new_session=True, **popen
    )
    return process, result


def driver_result(
    process: subprocess.Popen[bytes], result: Path, timeout: float = 10
) -> dict[str, Any]:
    process.wait(timeout)
    data: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
    return data
