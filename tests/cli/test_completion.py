"""`ssmctl completion` and dynamic completion, through bash, against the sandbox."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from ssmctl.sandbox import Sandbox
from tests.conftest import RunCli

pytestmark = pytest.mark.usefixtures("ssmctl_sandbox_env")

CONFIG = """\
aliases:
  prod-db: db-1
  jump:
    target: bastion
    region: eu-west-1
"""


@pytest.fixture
def shell_env(tmp_path: Path) -> dict[str, str]:
    """The sandbox's environment with `ssmctl` on PATH, a config file and a fresh cache."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "ssmctl"
    wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m ssmctl "$@"\n')
    wrapper.chmod(0o755)
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "ssmctl" / "config.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(CONFIG)
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }


def _bash(env: dict[str, str], *words: str) -> list[str]:
    """What bash offers for the last of `words`, through the script ssmctl prints."""
    quoted = " ".join(f"'{w}'" for w in words)
    script = (
        "source <(ssmctl completion bash)\n"
        f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}\n"
        "_ssmctl_completion ssmctl\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return [line for line in done.stdout.splitlines() if line]


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F _ssmctl_completion ssmctl"),
        ("zsh", "#compdef ssmctl"),
        ("fish", "complete --no-files --command ssmctl"),
    ],
)
def test_a_script_for_each_shell(cli: RunCli, shell: str, marker: str) -> None:
    result = cli("completion", shell)
    assert result.exit_code == 0, result.stderr
    assert marker in result.stdout
    assert f"_SSMCTL_COMPLETE={shell}_complete" in result.stdout
    if shutil.which(shell):
        check = subprocess.run([shell, "-n"], input=result.stdout, text=True, check=False)
        assert check.returncode == 0


def test_the_script_is_clicks_and_other_shells_are_refused(
    cli: RunCli, shell_env: dict[str, str]
) -> None:
    source = subprocess.run(
        ["ssmctl"],
        env={**shell_env, "_SSMCTL_COMPLETE": "bash_source"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert source.stdout == cli("completion", "bash").stdout
    refused = cli("completion", "tcsh")
    assert refused.exit_code == 2 and "'tcsh' is not one of 'bash', 'zsh', 'fish'" in refused.stderr


def test_bash_completes_commands_aliases_instances_and_sessions(
    shell_env: dict[str, str], ssmctl_sandbox: Sandbox
) -> None:
    assert _bash(shell_env, "ssmctl", "pre") == ["prefs"]
    assert _bash(shell_env, "ssmctl", "prefs", "s") == ["set", "show"]
    assert _bash(shell_env, "ssmctl", "connect", "@") == ["@jump", "@prod-db"]
    assert _bash(shell_env, "ssmctl", "connect", "web") == ["web-1", "web-2"]
    web_1 = ssmctl_sandbox.node_id("web-1")
    ids = _bash(shell_env, "ssmctl", "instances", "resolve", "i-")
    assert web_1 in ids and all(i.startswith("i-") for i in ids)
    everything = _bash(shell_env, "ssmctl", "connect", "")
    assert {"@jump", "@prod-db", "web-1", "db-1", "nas-1", web_1} <= set(everything)
    assert "batch-1" not in everything  # stopped
    assert _bash(shell_env, "ssmctl", "connect", "mi-") == [ssmctl_sandbox.node_id("nas-1")]
    assert _bash(shell_env, "ssmctl", "sessions", "list", "--target", "ba") == ["bastion"]
    # --region picks the region to ask
    eu = _bash(shell_env, "ssmctl", "connect", "--region", "eu-west-1", "")
    assert "eu-web-1" in eu and "web-1" not in eu

    ssm: Any = boto3.client("ssm")
    session = ssm.start_session(Target=ssmctl_sandbox.node_id("db-1"))["SessionId"]
    try:
        assert session in _bash(shell_env, "ssmctl", "sessions", "terminate", "alice-")
    finally:
        ssm.terminate_session(SessionId=session)


@pytest.mark.parametrize(
    "words",
    [
        ("exec",),
        ("forward",),
        ("proxy",),
        ("run",),
        ("run", "web-1"),  # several targets
        ("ssh-config",),
        ("doctor",),
        ("access", "check"),
        ("instances", "list"),
        ("sessions", "list", "--target"),
    ],
)
def test_every_command_that_takes_a_target_completes_it(
    shell_env: dict[str, str], words: tuple[str, ...]
) -> None:
    assert _bash(shell_env, "ssmctl", *words, "db") == ["db-1"]


def _cache_files(env: dict[str, str], kind: str) -> list[Path]:
    return sorted((Path(env["XDG_CACHE_HOME"]) / "ssmctl").glob(f"completion-{kind}-*.json"))


def test_answers_are_cached_briefly(shell_env: dict[str, str], ssmctl_sandbox: Sandbox) -> None:
    assert _bash(shell_env, "ssmctl", "connect", "web") == ["web-1", "web-2"]
    [path] = _cache_files(shell_env, "instances")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    data = json.loads(path.read_text())
    assert data["key"] == {
        "kind": "instances",
        "profile": "",
        "region": "us-east-1",
        "endpoint": ssmctl_sandbox.endpoint_url,
    }
    assert ssmctl_sandbox.users["alice"].access_key_id not in path.read_text()
    assert not list(path.parent.glob(".completion-*"))  # no temporary file left behind

    # A name only the cache knows is offered: the second completion asked AWS nothing.
    data["candidates"].append(["web-only-in-the-cache", "i-0"])
    path.write_text(json.dumps(data))
    before = path.stat().st_mtime_ns
    assert _bash(shell_env, "ssmctl", "connect", "web") == [
        "web-1",
        "web-2",
        "web-only-in-the-cache",
    ]
    assert path.stat().st_mtime_ns == before

    # Past its time to live the entry is fetched again.
    data["fetched_at"] -= 61
    path.write_text(json.dumps(data))
    assert _bash(shell_env, "ssmctl", "connect", "web") == ["web-1", "web-2"]
    assert json.loads(path.read_text())["fetched_at"] > data["fetched_at"] + 60

    # Another region (or profile, endpoint, access key) has an entry of its own.
    assert _bash(shell_env, "ssmctl", "connect", "--region", "eu-west-1", "eu") == ["eu-web-1"]
    assert len(_cache_files(shell_env, "instances")) == 2


_IMPORTS = """\
import atexit, os, sys
atexit.register(lambda: os.write(1, f"\\nboto3 imported: {'boto3' in sys.modules}\\n".encode()))
sys.argv = ["ssmctl"]
from ssmctl.__main__ import main
main()
"""


def test_a_cache_hit_does_not_import_boto3(shell_env: dict[str, str]) -> None:
    env = {
        **shell_env,
        "_SSMCTL_COMPLETE": "bash_complete",
        "COMP_WORDS": "ssmctl connect web",
        "COMP_CWORD": "2",
    }

    def complete() -> list[str]:
        done = subprocess.run(
            [sys.executable, "-c", _IMPORTS], env=env, capture_output=True, text=True, check=False
        )
        return [line for line in done.stdout.splitlines() if line]

    assert complete() == ["plain,web-1", "plain,web-2", "boto3 imported: True"]
    assert complete() == ["plain,web-1", "plain,web-2", "boto3 imported: False"]


def test_completion_fails_silently(shell_env: dict[str, str], ssmctl_sandbox: Sandbox) -> None:
    unreachable = {**shell_env, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    assert _bash(unreachable, "ssmctl", "connect", "web") == []
    expired = {**shell_env, **ssmctl_sandbox.env("carol")}
    assert _bash(expired, "ssmctl", "sessions", "terminate", "") == []
    no_region = {k: v for k, v in shell_env.items() if "REGION" not in k}
    assert _bash(no_region, "ssmctl", "connect", "web") == []
    assert _bash(shell_env, "ssmctl", "sessions", "terminate", "--region", "nowhere-1", "") == []
    broken = Path(shell_env["XDG_CONFIG_HOME"]) / "ssmctl" / "config.yaml"
    broken.write_text("aliases: [\n")
    assert _bash(shell_env, "ssmctl", "connect", "@") == []
    assert _bash(shell_env, "ssmctl", "connect", "web") == []
