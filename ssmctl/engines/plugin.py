"""Running the official session-manager-plugin for a session started with boto3.

    plugin = locate_plugin(os.environ, config.plugin_path)
    status = run_plugin(plugin, response, request, region=..., profile=..., endpoint_url=...,
                        terminate=lambda: ssm.terminate_session(SessionId=sid), notice=warn)

The session must never outlive a failure: every path out of `run_plugin` other than "the
plugin showed the session and exited 0" calls `terminate` (see `run_plugin`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ssmctl.engines.discovery import (
    PluginLocation,
    PluginSource,
    find_plugin,
    install_hint,
)
from ssmctl.engines.handoff import PluginCommand, build_command, client_region_endpoint
from ssmctl.engines.versions import (
    ENV_HANDOFF_AFTER,
    Version,
    format_version,
    plugin_version,
)
from ssmctl.errors import PluginError

if TYPE_CHECKING:
    from ssmctl.engines.relay import Outcome, Stream
    from ssmctl.engines.signals import SignalGuard

__all__ = [
    "STOP_GRACE",
    "Plugin",
    "PluginLocation",
    "PluginSource",
    "client_region_endpoint",
    "find_plugin",
    "locate_plugin",
    "plugin_version",
    "run_plugin",
]

STOP_GRACE = 1.0
"""Seconds the plugin gets to exit after SIGTERM before it is killed."""

_POSIX = os.name == "posix"


@dataclasses.dataclass(frozen=True)
class Plugin:
    """A located, version-checked session-manager-plugin."""

    path: str
    source: PluginSource
    version: Version

    @property
    def version_text(self) -> str:
        return format_version(self.version)


def locate_plugin(
    env: Mapping[str, str],
    configured: str | None,
    *,
    locations: tuple[str, ...] | None = None,
) -> Plugin:
    """`find_plugin` then `plugin_version`: a plugin ssmctl can run, or PluginError."""
    location = find_plugin(env, configured, locations=locations)
    return Plugin(location.path, location.source, plugin_version(location.path))


def run_plugin(
    plugin: Plugin,
    response: Mapping[str, Any],
    request: Mapping[str, Any],
    *,
    region: str,
    profile: str | None,
    endpoint_url: str,
    terminate: Callable[[], None],
    notice: Callable[[str], None],
    startup_timeout: float = 0.0,
    env: Mapping[str, str] | None = None,
    stdio: tuple[int, int, int] = (0, 1, 2),
) -> int:
    """Run the plugin for the started session `response` (from `ssm.start_session(**request)`)
    and return its exit status (128 + N when it died by signal N).

    - `region`, `endpoint_url`: the SSM client's (`handoff.client_region_endpoint`);
      `profile`: only an explicit one, else None.
    - `terminate()` ends the session (TerminateSession); `notice(line)` shows a diagnostic.
    - `startup_timeout`: seconds the plugin may take to show anything beyond its start-up
      banner (0 = wait forever, as the plugin itself does). A shell prompt, a port-forward
      "Port N opened" line or an SSH server's greeting all come at once; pass 0 for a
      session that may rightly stay silent (a non-interactive command printing nothing).
    - `env`: the plugin's base environment (default os.environ); `stdio`: the user's
      stdin/stdout/stderr descriptors.

    When stdin and stdout are terminals the plugin runs on its own pty (its controlling
    terminal) with the user's terminal in raw mode; otherwise its stdout/stderr are pipes
    copied through and stdin is inherited. While it runs, SIGINT/SIGQUIT/SIGTSTP are
    ignored here (they are the plugin's), and the previous handlers, terminal mode and
    everything else are restored on every path.

    `terminate` is called when the plugin cannot be started, shows nothing within
    `startup_timeout`, exits non-zero (or by a signal), exits without showing anything
    beyond its banner, or reports "Cannot perform start session" (it exits 0 even then):
    in all these cases the session may still be open on the service side, and an open
    session nobody is attached to is a zombie that counts against limits until it times
    out. TerminateSession on a session that already ended is harmless, so ssmctl does not
    try to tell these cases apart. `terminate` failures are reported through `notice` and
    never replace the primary error.

    If ssmctl receives SIGTERM or SIGHUP meanwhile, the plugin gets SIGTERM (SIGKILL after
    STOP_GRACE seconds), the session is terminated, and 128 + that signal number is
    returned (143 for SIGTERM, 129 for SIGHUP): the CLI exits with it as a shell would.

    Raises PluginError (after terminating the session) when the request has no Target,
    the platform is not POSIX, the plugin cannot be executed, or the start-up timeout
    expires. Must be called from the main thread (signal handlers live there).
    """
    end_session = _SessionEnder(terminate, notice, str(response.get("SessionId", "?")))
    if threading.current_thread() is not threading.main_thread():
        end_session()
        raise RuntimeError("run_plugin must be called from the main thread")

    if not _POSIX:
        end_session()
        raise PluginError(
            "running the session-manager-plugin from ssmctl needs Linux or macOS; on "
            "Windows use `aws ssm start-session` or ssmctl under WSL"
        )
    try:
        command = build_command(
            plugin.path,
            plugin.version,
            response,
            request,
            region=region,
            profile=profile,
            endpoint_url=endpoint_url,
            base_env=os.environ if env is None else env,
        )
    except PluginError:
        end_session()
        raise
    if command.token_in_argv:
        _notify(
            notice,
            f"session-manager-plugin {plugin.version_text} takes the session token on its "
            "command line, where other users of this machine can see it (ps); versions "
            f"newer than {format_version(ENV_HANDOFF_AFTER)} do not. {install_hint()}",
        )
    return _Runner(command, startup_timeout, stdio, end_session, notice).run()


class _Runner:
    """One run of the plugin: spawn, relay, and clean up on every path."""

    def __init__(
        self,
        command: PluginCommand,
        startup_timeout: float,
        stdio: tuple[int, int, int],
        end_session: Callable[[], bool],
        notice: Callable[[str], None],
    ) -> None:
        from ssmctl.engines.relay import FirstOutput

        self.command = command
        self.startup_timeout = startup_timeout
        self.stdin, self.stdout, self.stderr = stdio
        self.end_session = end_session
        self.notice = notice
        self.process: subprocess.Popen[bytes] | None = None
        self.first_output = FirstOutput(command.session_id)

    def run(self) -> int:
        import termios

        from ssmctl.engines import terminal
        from ssmctl.engines.relay import STOP_SIGNALS
        from ssmctl.engines.signals import SignalGuard

        use_pty = terminal.is_terminal(self.stdin) and terminal.is_terminal(self.stdout)
        watched = [*STOP_SIGNALS, signal.SIGCHLD]
        if use_pty:
            watched += [signal.SIGWINCH, signal.SIGCONT]
        try:
            # The guard comes first: the plugin inherits the ignored keyboard signals
            # (as with the AWS CLI), and no SIGCHLD can arrive before its handler exists.
            with SignalGuard(watched) as guard:
                outcome = self._on_pty(guard) if use_pty else self._on_pipes(guard)
        except BaseException as exc:
            # Whatever went wrong, leave neither a plugin nor a session behind.
            if self.process is not None:
                _stop(self.process)
            if isinstance(exc, (OSError, termios.error)):  # no pty left, a broken terminal
                raise PluginError(f"cannot relay the session: {exc}; {self._ended_text()}") from exc
            self.end_session()
            raise
        # The terminal and the signal handlers are the user's again: report from here.
        return self._finish(outcome)

    def _on_pty(self, guard: SignalGuard) -> Outcome:
        from ssmctl.engines import terminal
        from ssmctl.engines.relay import Stream

        master, slave = terminal.open_pty_like(self.stdin)
        try:
            try:
                process = self._spawn(
                    stdin=slave,
                    stdout=slave,
                    stderr=slave,
                    start_new_session=True,
                    # Popen cannot make the pty the child's controlling terminal, and the
                    # plugin needs one for Ctrl-C to become its SIGINT; the hook makes one
                    # ioctl() between fork and exec and takes no Python-level locks.
                    preexec_fn=terminal.make_controlling_terminal,
                )
            finally:
                os.close(slave)  # only the plugin holds it now: EIO on master = it is gone
            streams = [
                Stream(self.stdin, master, from_plugin=False),
                Stream(master, self.stdout, from_plugin=True),
            ]
            with terminal.RawMode(self.stdin) as raw:

                def on_signal(signum: int) -> None:
                    if signum == signal.SIGCONT:
                        raw.reapply()
                    terminal.copy_window_size(self.stdin, master)

                return self._relay(process, streams, guard, on_signal)
        finally:
            os.close(master)

    def _on_pipes(self, guard: SignalGuard) -> Outcome:
        from ssmctl.engines.relay import Stream

        process = self._spawn(stdin=self.stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert process.stdout is not None
        assert process.stderr is not None
        try:
            streams = [
                Stream(process.stdout.fileno(), self.stdout, from_plugin=True),
                Stream(process.stderr.fileno(), self.stderr, from_plugin=True),
            ]
            return self._relay(process, streams, guard, None)
        finally:
            process.stdout.close()
            process.stderr.close()

    def _spawn(self, **options: Any) -> subprocess.Popen[bytes]:
        """Start the plugin; on failure end the session and raise PluginError."""
        try:
            self.process = subprocess.Popen(
                self.command.argv, env=dict(self.command.env), close_fds=True, **options
            )
        except (OSError, subprocess.SubprocessError) as exc:
            # Never show argv: for an old plugin the token is in it. OSError.strerror
            # and the path are all the user needs.
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise PluginError(
                f"cannot run the session-manager-plugin at {self.command.argv[0]}: "
                f"{reason}; {self._ended_text()}"
            ) from None
        return self.process

    def _relay(
        self,
        process: subprocess.Popen[bytes],
        streams: list[Stream],
        guard: SignalGuard,
        on_signal: Callable[[int], None] | None,
    ) -> Outcome:
        from ssmctl.engines.relay import relay

        outcome = relay(
            process,
            streams,
            guard,
            self.first_output,
            startup_timeout=self.startup_timeout,
            on_signal=on_signal,
        )
        if outcome.status is None:
            _stop(process)  # timed out or told to stop: the plugin is still running
        return outcome

    def _finish(self, outcome: Outcome) -> int:
        session_id = self.command.session_id
        if outcome.timed_out:
            raise PluginError(
                f"the session-manager-plugin showed nothing within "
                f"{self.startup_timeout:g} s (is the Session Manager endpoint reachable?); "
                f"{self._ended_text()}"
            )
        if outcome.stop_signal is not None:
            ended = self.end_session()
            name = signal.Signals(outcome.stop_signal).name
            _notify(
                self.notice,
                f"received {name}: stopped the plugin"
                + (f" and terminated session {session_id}" if ended else ""),
            )
            return 128 + outcome.stop_signal
        status = outcome.status if outcome.status is not None else 1
        if status != 0 or not self.first_output.shown or self.first_output.failed_to_start:
            self.end_session()
        return status

    def _ended_text(self) -> str:
        """End the session and say so (or that it could not be ended)."""
        if self.end_session():
            return f"session {self.command.session_id} was terminated"
        return f"session {self.command.session_id} may still be open"


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after STOP_GRACE seconds; reap the process."""
    if process.poll() is not None:
        return
    try:
        process.terminate()
        process.wait(STOP_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    except ProcessLookupError:
        process.wait()


class _SessionEnder:
    """Calls `terminate` at most once; a failure becomes a notice, never an exception."""

    def __init__(
        self, terminate: Callable[[], None], notice: Callable[[str], None], session_id: str
    ) -> None:
        self._terminate = terminate
        self._notice = notice
        self._session_id = session_id
        self._result: bool | None = None

    def __call__(self) -> bool:
        """True when the session was terminated (now or by an earlier call)."""
        if self._result is None:
            try:
                self._terminate()
                self._result = True
            except Exception as exc:
                self._result = False
                _notify(self._notice, f"could not terminate session {self._session_id}: {exc}")
        return self._result


def _notify(notice: Callable[[str], None], line: str) -> None:
    with contextlib.suppress(OSError):  # stderr is gone (a hung-up terminal)
        notice(line)
