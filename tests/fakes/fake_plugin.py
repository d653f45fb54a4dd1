"""A stand-in for the official session-manager-plugin, for tests (never touches the network).

Run through the executable `tests/fakes/session-manager-plugin`. Behaviour is chosen with
environment variables (all optional):

FAKE_PLUGIN_VERSION       text printed by `--version` (default 1.2.707.0)
FAKE_PLUGIN_VERSION_EXIT  exit status of `--version` (default 0)
FAKE_PLUGIN_VERSION_SLEEP seconds `--version` sleeps first (default 0)
FAKE_PLUGIN_RECORD        JSON file written at start and after every event (below)
FAKE_PLUGIN_MODE          exit (default) | silent | sleep | interactive | signal
                          exit: print the output, exit FAKE_PLUGIN_EXIT
                          silent: print nothing, sleep FAKE_PLUGIN_SLEEP, exit
                          sleep: print the output, sleep FAKE_PLUGIN_SLEEP, exit
                          interactive: print the output ("ready"), put a tty stdin in
                            cbreak/-echo like the real plugin, then echo every input chunk
                            as "got <hex>", report "got SIGINT"/"got SIGTSTP"/"got SIGQUIT",
                            print "size <cols>x<rows>" whenever the terminal size changes
                            (polled every 50 ms); "q" or EOF on stdin ends it
                          signal: print the output, then die by FAKE_PLUGIN_SIGNAL (default 9)
FAKE_PLUGIN_OUTPUT        stdout text (a newline is added); empty = print nothing
FAKE_PLUGIN_STDERR        stderr text (a newline is added)
FAKE_PLUGIN_BANNER        "1": first print the real plugin's banner
                          "\\nStarting session with SessionId: <id>\\n"
FAKE_PLUGIN_EXIT          exit status (default 0)
FAKE_PLUGIN_SLEEP         seconds for silent/sleep/interactive (default 30)
FAKE_PLUGIN_IGNORE_TERM   "1": ignore SIGTERM (so only SIGKILL stops it)
FAKE_PLUGIN_ORPHAN        seconds: leave behind a process that holds stdout/stderr open
                          that long (its pid is recorded as orphan_pid)

The record: args (argv[1:]), response (the parsed StartSession response, token included:
tests only) and response_source ("env" or "argv"), env (every AWS_* variable), isatty
{stdin, stdout, stderr}, size ([cols, rows] of stdout or null), foreground (stdin is its
controlling terminal and it is the foreground group; null without a tty), pid, ppid,
parent_signals / own_signals ({"ignored": [...], "caught": [...]} signal names read from
/proc/<pid>/status; null where there is no /proc), events (interactive mode: ready once
its handlers are installed, then input hex / size / signal / eof).

Like the real plugin it needs a string Target in argv[5] (else exit 2), reads the response
from the variable named by argv[1] when that starts with AWS_SSM_START_SESSION_RESPONSE,
and prints an "installed successfully" line when run without arguments.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from typing import Any

RESPONSE_VAR = "AWS_SSM_START_SESSION_RESPONSE"
WATCHED_SIGNALS = ("SIGINT", "SIGQUIT", "SIGTSTP", "SIGTERM", "SIGHUP", "SIGWINCH", "SIGCHLD")


def main(argv: list[str]) -> int:
    if argv[1:] == ["--version"]:
        time.sleep(float(os.environ.get("FAKE_PLUGIN_VERSION_SLEEP", "0")))
        print(os.environ.get("FAKE_PLUGIN_VERSION", "1.2.707.0"), flush=True)
        return int(os.environ.get("FAKE_PLUGIN_VERSION_EXIT", "0"))
    if len(argv) == 1:
        print("The Session Manager plugin was installed successfully (fake).")
        return 0
    if os.environ.get("FAKE_PLUGIN_IGNORE_TERM") == "1":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    record = Record(os.environ.get("FAKE_PLUGIN_RECORD"), argv)
    try:
        request = json.loads(argv[5])
        if not isinstance(request["Target"], str):
            raise TypeError("Target")
    except (IndexError, ValueError, KeyError, TypeError):
        print("panic: interface conversion: interface {} is nil, not string", file=sys.stderr)
        return 2
    session_id = str(record.data.get("response", {}).get("SessionId", ""))
    mode = os.environ.get("FAKE_PLUGIN_MODE", "exit")
    status = int(os.environ.get("FAKE_PLUGIN_EXIT", "0"))
    sleep = float(os.environ.get("FAKE_PLUGIN_SLEEP", "30"))

    if os.environ.get("FAKE_PLUGIN_BANNER") == "1":
        write(f"\nStarting session with SessionId: {session_id}\n")
    if os.environ.get("FAKE_PLUGIN_ORPHAN"):
        code = f"import time; time.sleep({float(os.environ['FAKE_PLUGIN_ORPHAN'])})"
        orphan = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL)
        record.data["orphan_pid"] = orphan.pid
        record.save()
    if mode == "silent":
        time.sleep(sleep)
        return status
    default = "ready" if mode == "interactive" else f"fake plugin: session {session_id}"
    output = os.environ.get("FAKE_PLUGIN_OUTPUT", default)
    if output:
        write(output + "\n")
    if os.environ.get("FAKE_PLUGIN_STDERR"):
        os.write(2, (os.environ["FAKE_PLUGIN_STDERR"] + "\n").encode())
    if mode == "signal":
        signum = int(os.environ.get("FAKE_PLUGIN_SIGNAL", "9"))
        if signum not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(signum, signal.SIG_DFL)  # it may have been inherited as ignored
        os.kill(os.getpid(), signum)
        time.sleep(5)
    if mode == "sleep":
        time.sleep(sleep)
    if mode == "interactive":
        interact(record, sleep)
    return status


def write(text: str) -> None:
    os.write(1, text.encode())


class Record:
    """What the fake saw, as JSON in FAKE_PLUGIN_RECORD (rewritten after each event)."""

    def __init__(self, path: str | None, argv: list[str]) -> None:
        self.path = path
        args = argv[1:]
        response_text = ""
        source = "argv"
        if args and args[0].startswith(RESPONSE_VAR):
            response_text, source = os.environ.get(args[0], ""), "env"
        elif args:
            response_text = args[0]
        try:
            response = json.loads(response_text) if response_text else {}
        except ValueError:
            response = {}
        self.data: dict[str, Any] = {
            "args": args,
            "response": response,
            "response_source": source,
            "env": {k: v for k, v in os.environ.items() if k.startswith("AWS_")},
            "isatty": {
                name: os.isatty(fd) for name, fd in (("stdin", 0), ("stdout", 1), ("stderr", 2))
            },
            "size": terminal_size(),
            "foreground": foreground(),
            "pid": os.getpid(),
            "ppid": os.getppid(),
            "parent_signals": signal_masks(os.getppid()),
            "own_signals": signal_masks(os.getpid()),
            "events": [],
        }
        self.save()

    def event(self, **fields: Any) -> None:
        self.data["events"].append(fields)
        self.save()

    def save(self) -> None:
        if not self.path:
            return
        temporary = f"{self.path}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(self.data, handle)
        os.replace(temporary, self.path)


def terminal_size() -> list[int] | None:
    try:
        size = os.get_terminal_size(1)
    except OSError:
        return None
    return [size.columns, size.lines]


def foreground() -> bool | None:
    """True when stdin is our controlling terminal and we are its foreground group."""
    if not os.isatty(0):
        return None
    try:
        return os.tcgetpgrp(0) == os.getpgrp()
    except OSError:
        return False


def signal_masks(pid: int) -> dict[str, list[str]] | None:
    """Ignored and caught signals of `pid`, from /proc (Linux only; None elsewhere)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            fields = dict(line.split(":", 1) for line in handle if ":" in line)
    except OSError:
        return None
    out: dict[str, list[str]] = {}
    for key, name in (("SigIgn", "ignored"), ("SigCgt", "caught")):
        mask = int(fields[key].strip(), 16)
        out[name] = [sig for sig in WATCHED_SIGNALS if mask & (1 << (getattr(signal, sig) - 1))]
    return out


def interact(record: Record, limit: float) -> None:
    """Echo input, report signals and size changes, until "q", EOF or `limit` seconds."""
    restore = cbreak_no_echo(0)
    for name in ("SIGINT", "SIGTSTP", "SIGQUIT"):

        def report(signum: int, frame: object, name: str = name) -> None:
            write(f"got {name}\n")
            record.event(signal=name)

        signal.signal(getattr(signal, name), report)
    record.event(ready=True)  # handlers are in place: tests may send signals now
    size = terminal_size()
    deadline = time.monotonic() + limit
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([0], [], [], 0.05)
            now_size = terminal_size()
            if now_size != size:
                size = now_size
                record.event(size=size)
                write(f"size {size[0]}x{size[1]}\n" if size else "size none\n")
            if not ready:
                continue
            data = os.read(0, 1024)
            if not data:
                record.event(eof=True)
                return
            record.event(input=data.hex())
            write(f"got {data.hex()}\n")
            if b"q" in data:
                return
    finally:
        restore()


def cbreak_no_echo(fd: int) -> Any:
    """Like the real plugin's `stty cbreak -echo`; returns a function that undoes it."""
    if not os.isatty(fd):
        return lambda: None
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd)
    mode = termios.tcgetattr(fd)
    mode[3] &= ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSANOW, mode)

    def restore() -> None:
        with contextlib.suppress(termios.error):
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    return restore


if __name__ == "__main__":
    sys.exit(main(sys.argv))
