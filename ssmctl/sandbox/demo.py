"""`ssmctl sandbox demo`: a tour of ssmctl on a sandbox started in-process.

Every step runs the real thing, an ssmctl process against the sandbox's endpoint and
data channel, shows its command line and what it printed, and checks the result a user
would look for: instances resolved by tag, a shell on the native engine with commands
typed into it, a command's separate streams and exit status, a port forwarded to a web
service and fetched through, the live session listed and terminated, the CloudTrail
events and session records of all of it, and the shell's transcript. The demo succeeds
only when every step did.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shlex
import subprocess
import tempfile
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import click

from ssmctl.sandbox.demo_io import TIMEOUT, Background, WebService, demo_environment, run_ssmctl
from ssmctl.sandbox.server import Sandbox
from ssmctl.sanitize import terminal_safe

REASON = "ssmctl sandbox demo"
WEB_PAGE = "Hello from the web service on web-1, through Session Manager port forwarding.\n"
SHELL_TARGET, COMMAND_TARGET = "web-1", "web-2"
INDENT = "    "


@dataclasses.dataclass
class _Failed(Exception):
    """A step's check failed; `why` says what was expected."""

    why: str


@dataclasses.dataclass
class _State:
    """What later steps need from earlier ones."""

    shell_session: str | None = None
    sessions: list[str] = dataclasses.field(default_factory=list)


class Demo:
    """The tour on `sandbox` (started, default fleet); narration goes to `out`."""

    def __init__(self, sandbox: Sandbox, out: TextIO, *, color: bool, width: int) -> None:
        self.sandbox = sandbox
        self.out = out
        self.color = color
        self.width = max(width, 60)
        self.state = _State()
        self._env: dict[str, str] = {}

    def run(self) -> bool:
        """Run every step; True when all of them worked."""
        steps: list[tuple[str, Callable[[], None]]] = [
            ("Resolve instances by tag", self.resolve),
            ("A shell on web-1 through the native engine", self.shell),
            ("A command: separate streams and its exit status", self.command),
            ("Forward a port, list the live session, terminate it", self.forward),
            ("The audit trail: CloudTrail events", self.events),
            ("The audit trail: one record per session", self.records),
            ("The shell's transcript, from the session logs", self.transcript),
        ]
        box = self.sandbox
        self._say(
            f"A Session Manager region runs on {box.endpoint_url} (account {box.account_id}, "
            f"regions {', '.join(box.regions)}); nothing leaves this machine.",
        )
        failed: list[str] = []
        with tempfile.TemporaryDirectory(prefix="ssmctl-demo-") as workdir:
            self._env = demo_environment(box.env(base=os.environ), Path(workdir), self.width)
            for number, (title, step) in enumerate(steps, 1):
                self._heading(f"{number}. {title}")
                try:
                    step()
                except _Failed as exc:
                    failed.append(title)
                    self._verdict(False, exc.why)
                except subprocess.TimeoutExpired as exc:
                    failed.append(title)
                    self._verdict(False, f"no answer within {exc.timeout:.0f} s")
                else:
                    self._verdict(True, "")
        self.out.write("\n")
        if failed:
            self._say(f"{len(failed)} of {len(steps)} steps failed: {'; '.join(failed)}.")
            return False
        self._say(
            f"All {len(steps)} steps worked. Now try it yourself: `ssmctl sandbox up` prints the "
            "lines that point your shell at a sandbox; then `ssmctl connect web-1`, "
            "`ssmctl instances list --all-regions`, `ssmctl audit sessions`."
        )
        return True

    # -- the steps ---------------------------------------------------------------------

    def resolve(self) -> None:
        result = self._ssmctl("instances", "list", "--tag", "Role=web", "--output", "table")
        _expect(result.returncode == 0, f"exit status {result.returncode}")
        for name in ("web-1", "web-2"):
            _expect(name in result.stdout, f"{name} (tagged Role=web) is not listed")
        _expect("eu-web-1" not in result.stdout, "another region's instance is listed")

    def shell(self) -> None:
        lines = ['echo "hello from $AWS_SSM_INSTANCE_ID in $AWS_SSM_REGION_NAME"', "pwd", "exit"]
        args = ["connect", SHELL_TARGET, "--engine", "native", "--reason", REASON]
        self._command(args, comment=f"then types: {' ; '.join(lines)}")
        before = self._known_sessions()
        shell = Background(args, self._env)
        try:
            for line in lines:
                _expect(shell.type_line(line), f"no shell prompt before {line!r}")
            status = shell.wait()
        finally:
            shell.stop()
        self._show(shell.output().replace("\r\n", "\n"))
        self._show(shell.errors(), prefix="stderr: ")
        _expect(status == 0, f"exit status {status}")
        web_1 = self.sandbox.node_id(SHELL_TARGET)
        _expect(f"hello from {web_1} in " in shell.output(), "the shell did not answer")
        new = self._new_sessions(before)
        _expect(len(new) == 1, f"expected one new session, found {len(new)}")
        self.state.shell_session = new[0]

    def command(self) -> None:
        script = "echo to stdout; echo to stderr >&2; exit 3"
        before = self._known_sessions()
        result = self._ssmctl("exec", COMMAND_TARGET, "--", "sh", "-c", script)
        self._note(f"exit status {result.returncode}")
        _expect(result.returncode == 3, f"exit status {result.returncode}, not the remote 3")
        _expect(result.stdout == "to stdout\n", "stdout is not the command's stdout")
        _expect(result.stderr == "to stderr\n", "stderr is not the command's stderr")
        self._new_sessions(before)

    def forward(self) -> None:
        with WebService(WEB_PAGE) as web:
            args = ["forward", SHELL_TARGET, "--remote", str(web.port), "--engine", "native"]
            self._command([*args, "--output", "json"], comment="(in the background)")
            before = self._known_sessions()
            forward = Background([*args, "--output", "json"], self._env)
            try:
                line = forward.stdout.first_line(TIMEOUT)
                _expect(line is not None, f"forward printed nothing: {forward.errors().strip()}")
                assert line is not None
                self._show(line)
                listening = json.loads(line)
                url = f"http://{listening['local_host']}:{listening['local_port']}/"
                self._command(["curl", url], program="")
                with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
                    page = response.read().decode()
                self._show(page)
                _expect(page == WEB_PAGE, "the page did not come through the forwarded port")
                session_id = listening["session_id"]
                self._new_sessions(before)

                listed = self._ssmctl("sessions", "list", "--output", "table")
                _expect(listed.returncode == 0, f"sessions list: exit status {listed.returncode}")
                _expect(session_id in listed.stdout, "the live session is not listed")
                ended = self._ssmctl(
                    "sessions", "terminate", session_id, "--yes", "--output", "table"
                )
                _expect(ended.returncode == 0, f"terminate: exit status {ended.returncode}")
                status = forward.wait()
                self._note(f"the forward ended when its session was terminated: exit {status}")
                _expect(status == 0, f"forward exited {status}: {forward.errors().strip()}")
            finally:
                forward.stop()

    def events(self) -> None:
        result = self._ssmctl("audit", "events", "--since", "1h", "--output", "table")
        _expect(result.returncode == 0, f"exit status {result.returncode}")
        for session_id in self.state.sessions:
            _expect(session_id in result.stdout, f"no event for session {session_id}")
        _expect("TerminateSession" in result.stdout, "no TerminateSession event")

    def records(self) -> None:
        session_id = self._shell_session()
        self.sandbox.agent.wait_ended(session_id, TIMEOUT)
        result = self._ssmctl(
            "audit", "sessions", "--since", "1h", "--session-id", session_id, "--output", "yaml"
        )
        _expect(result.returncode == 0, f"exit status {result.returncode}")
        _expect(f"session_id: {session_id}" in result.stdout, "the session has no record")
        _expect(f"reason: {REASON}" in result.stdout, "the record lacks the session's reason")

    def transcript(self) -> None:
        session_id = self._shell_session()
        self.sandbox.agent.wait_ended(session_id, TIMEOUT)
        result = self._ssmctl("audit", "log", session_id)
        _expect(result.returncode == 0, f"exit status {result.returncode}")
        _expect("hello from" in result.stdout, "the transcript lacks what the shell printed")

    # -- helpers -----------------------------------------------------------------------

    def _shell_session(self) -> str:
        if self.state.shell_session is None:
            raise _Failed("skipped: the shell step did not leave a session")
        return self.state.shell_session

    def _ssmctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        self._command(args)
        result = run_ssmctl(args, self._env)
        self._show(result.stdout)
        self._show(result.stderr, prefix="stderr: ")
        return result

    def _known_sessions(self) -> set[str]:
        box = self.sandbox
        return {
            r.session_id
            for state in ("Active", "History")
            for r in box.sessions.list(box.account_id, box.region, state)
        }

    def _new_sessions(self, before: set[str]) -> list[str]:
        new = sorted(self._known_sessions() - before)
        self.state.sessions += new
        return new

    # -- narration ---------------------------------------------------------------------

    def _style(self, text: str, **style: Any) -> str:
        return click.style(text, **style) if self.color else text

    def _say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def _heading(self, text: str) -> None:
        self._say("\n" + self._style(text, bold=True))

    def _command(self, args: Sequence[str], *, comment: str = "", program: str = "ssmctl") -> None:
        words = ([program] if program else []) + [shlex.quote(a) for a in args]
        line = "$ " + " ".join(words) + (f"    # {comment}" if comment else "")
        self._say(INDENT + self._style(terminal_safe(line), fg="cyan"))

    def _show(self, text: str, *, prefix: str = "") -> None:
        for line in text.rstrip("\n").splitlines():
            if line.strip() or not prefix:  # no blank stderr lines
                self._say(INDENT + terminal_safe(prefix + line.rstrip("\r")))

    def _note(self, text: str) -> None:
        self._say(INDENT + self._style(f"({text})", dim=True))

    def _verdict(self, ok: bool, why: str) -> None:
        if ok:
            self._say(INDENT + self._style("ok", fg="green"))
        else:
            self._say(INDENT + self._style(f"FAILED: {terminal_safe(why)}", fg="red", bold=True))


def _expect(condition: bool, why: str) -> None:
    if not condition:
        raise _Failed(why)
