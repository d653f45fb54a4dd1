"""`ssmctl sandbox demo`: the README's first command, end to end, and its failure path."""

from __future__ import annotations

import os
import re
import subprocess
import sys

STEPS = 7


def test_the_demo_runs_every_step_for_real() -> None:
    # Its own sandbox, its own environment: nothing from the test session leaks in.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SSMCTL_"))}
    done = subprocess.run(
        [sys.executable, "-m", "ssmctl", "sandbox", "demo", "--no-color"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert out.count("\n    ok\n") == STEPS
    assert f"All {STEPS} steps worked" in out
    assert "\x1b[" not in out  # --no-color
    # What each step shows a user: the commands and their real results.
    assert re.search(r"i-[0-9a-f]{17}  web-1  running  Online", out)
    [web_1] = set(re.findall(r"hello from (i-[0-9a-f]{17}) in us-east-1", out))
    assert "    to stdout\n    stderr: to stderr\n    (exit status 3)" in out
    assert "Hello from the web service on web-1" in out
    assert re.search(r"alice-\w+ +i-[0-9a-f]{17} +Connected .*AWS-StartPortForwardingSession", out)
    assert out.count("StartSession ") >= 3 and "TerminateSession" in out
    assert "ended_by: exit" in out and f"target: {web_1}" in out
    # The transcript step prints what the shell printed, from the session logs.
    transcript = out.split("$ ssmctl audit log ", 1)[1]
    assert f"hello from {web_1} in us-east-1" in transcript


FAILING = """
import sys
from ssmctl.sandbox import Sandbox
from ssmctl.sandbox.demo import Demo
from ssmctl.sandbox.fleet_parse import parse_fleet

fleet = parse_fleet(sys.argv[1], "fleet.yaml")
with Sandbox(fleet) as box:
    worked = Demo(box, sys.stdout, color=False, width=100).run()
sys.exit(0 if worked else 1)
"""


def test_a_failing_step_fails_the_demo_and_says_which() -> None:
    # A fleet without web-2: resolving Role=web finds one instance, exec has no target.
    # In a process of its own: one sandbox per process (moto's state is global).
    fleet = (
        "users: [{name: alice}]\n"
        "session_preferences: {cloudWatchLogGroupName: /demo, cloudWatchStreamingEnabled: true}\n"
        "instances:\n  - {name: web-1, tags: {Role: web}}\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SSMCTL_"))}
    done = subprocess.run(
        [sys.executable, "-c", FAILING, fleet],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    text = done.stdout
    assert done.returncode == 1, text + done.stderr
    assert "FAILED: web-2 (tagged Role=web) is not listed" in text
    assert "2 of 7 steps failed: Resolve instances by tag; A command:" in text
    assert text.count("\n    ok\n") == STEPS - 2
