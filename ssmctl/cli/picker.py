"""An interactive picker with type-to-filter, drawn on the controlling terminal.

It reads keys from /dev/tty and draws there, so it works while stdout is piped.
Enter picks, Esc or Ctrl-C cancels, arrows (or Ctrl-P/Ctrl-N) move, typing filters
(every word must appear), Backspace and Ctrl-U edit the filter.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from ssmctl.models import Instance
from ssmctl.sanitize import terminal_safe

_MAX_ROWS = 12


def pick_instance(instances: Sequence[Instance]) -> Instance | None:
    """Let the user choose one of `instances`; None when cancelled."""
    labels = [_label(i) for i in instances]
    index = pick(f"{len(instances)} instances match; type to filter, Enter to pick", labels)
    return None if index is None else instances[index]


def _label(instance: Instance) -> str:
    state = instance.state or ("hybrid" if instance.is_hybrid else "-")
    parts = [
        instance.instance_id,
        instance.name or "-",
        state,
        instance.ping_status or "not in SSM",
        instance.private_ip or "-",
    ]
    return "  ".join(terminal_safe(p) for p in parts)


def pick(title: str, items: Sequence[str], tty_path: str = "/dev/tty") -> int | None:
    """Show `items` and return the index picked, or None if cancelled."""
    import termios
    import tty

    fd = os.open(tty_path, os.O_RDWR | os.O_NOCTTY)
    saved = termios.tcgetattr(fd)
    state = _State(items)
    drawn = 0
    try:
        tty.setcbreak(fd)
        new = termios.tcgetattr(fd)
        new[3] &= ~termios.ISIG  # Ctrl-C arrives as a key: we cancel and clean up ourselves
        termios.tcsetattr(fd, termios.TCSANOW, new)
        while True:
            drawn = _draw(fd, title, state, drawn)
            data = os.read(fd, 64)
            if not data:
                return None
            for key in split_keys(data):
                outcome = state.handle(key)
                if outcome is not _State.CONTINUE:
                    return outcome if isinstance(outcome, int) else None
    finally:
        _clear(fd, drawn)
        termios.tcsetattr(fd, termios.TCSAFLUSH, saved)
        os.close(fd)


_ESCAPE_SEQUENCE = re.compile(rb"\x1b(?:\[[0-9;]*[A-Za-z~]|O[A-Za-z])")


def split_keys(data: bytes) -> list[bytes]:
    """One read may hold several keys (typed fast, or pasted): split it into keys.

    Escape sequences (arrows) stay whole; a lone ESC is the Esc key; text is split into
    characters so Enter after typed text is seen as Enter.
    """
    keys: list[bytes] = []
    pos = 0
    while pos < len(data):
        match = _ESCAPE_SEQUENCE.match(data, pos)
        if match:
            keys.append(match.group(0))
            pos = match.end()
            continue
        end = pos + 1
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # UTF-8 continuation bytes
            end += 1
        keys.append(data[pos:end])
        pos = end
    return keys


class _State:
    CONTINUE = object()
    CANCEL = object()

    def __init__(self, items: Sequence[str]) -> None:
        self.items = list(items)
        self.query = ""
        self.cursor = 0

    def matches(self) -> list[int]:
        words = self.query.lower().split()
        return [n for n, item in enumerate(self.items) if all(w in item.lower() for w in words)]

    def handle(self, key: bytes) -> object:
        shown = self.matches()
        if key in (b"\r", b"\n"):
            return shown[self.cursor] if shown else _State.CONTINUE
        if key in (b"\x1b", b"\x03", b"\x04"):
            return _State.CANCEL
        if key in (b"\x1b[A", b"\x1bOA", b"\x10"):
            self.cursor = max(0, self.cursor - 1)
        elif key in (b"\x1b[B", b"\x1bOB", b"\x0e"):
            self.cursor = min(max(len(shown) - 1, 0), self.cursor + 1)
        elif key in (b"\x7f", b"\x08"):
            self.query = self.query[:-1]
            self.cursor = 0
        elif key == b"\x15":
            self.query = ""
            self.cursor = 0
        elif not key.startswith(b"\x1b"):
            text = key.decode("utf-8", "ignore")
            self.query += "".join(c for c in text if c.isprintable())
            self.cursor = 0
        return _State.CONTINUE


def _draw(fd: int, title: str, state: _State, drawn: int) -> int:
    shown = state.matches()
    start = max(0, state.cursor - _MAX_ROWS + 1)
    lines = [f"{title}", f"> {terminal_safe(state.query)}"]
    for offset, index in enumerate(shown[start : start + _MAX_ROWS]):
        marker = "\x1b[7m" if start + offset == state.cursor else ""
        lines.append(f"{marker}  {state.items[index]}\x1b[0m")
    if not shown:
        lines.append("  (no match)")
    elif len(shown) > _MAX_ROWS:
        lines.append(f"  ... {len(shown)} matches")
    up = f"\x1b[{drawn}F" if drawn else "\r"
    os.write(fd, (up + "\x1b[J" + "\r\n".join(lines) + "\r\n").encode())
    return len(lines)


def _clear(fd: int, drawn: int) -> None:
    if drawn:
        os.write(fd, f"\x1b[{drawn}F\x1b[J".encode())
