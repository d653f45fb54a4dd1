"""A logged session's transcript, in the two shapes the agent writes (protocol.md section 9).

- The plain-text transcript (S3, and CloudWatch Logs without streaming): what util-linux
  `script` records on Linux -- a `Script started on ...` line, the terminal output as
  it was (ANSI escapes included), a `Script done on ...` line.
- Streaming events (CloudWatch Logs with `cloudWatchStreamingEnabled`): about every
  second, one JSON event holding the terminal text printed since the last one, split on
  newlines, with carriage returns removed and ANSI escapes stripped.

Nothing here does I/O; the session feeds output in and takes the texts out.
"""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import json
import re

MAX_KEPT = 64 * 1024 * 1024
"""Bytes of output kept for the end-of-session transcript; later output is dropped."""
EVENT_CHUNK = 200 * 1024
"""Largest CloudWatch Logs event of a non-streaming transcript upload."""

# CSI and OSC sequences, character-set designations, and other two-byte escapes.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"
    r"|\x1b[()*+][0-~]"
    r"|\x1b[@-Z\\-_=>78]"
)
# Other control characters a terminal consumes (tab and newline are text).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# A trailing escape sequence that is not finished yet (completed by later output).
_UNFINISHED = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?|[()*+])?$")


def strip_terminal(text: str) -> str:
    """Terminal text as a reader sees it: no ANSI escapes, no CR or other controls."""
    return _CONTROL.sub("", _ANSI.sub("", text).replace("\r", ""))


def script_time(moment: dt.datetime) -> str:
    """`script`'s time format: `2024-10-21 08:15:30+00:00`."""
    return moment.astimezone(dt.timezone.utc).isoformat(sep=" ", timespec="seconds")


def iso_z(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who and where, as the streaming events name them."""

    region: str
    target: str
    owner_arn: str
    run_as_user: str
    session_id: str


class Transcript:
    """Collects a session's output for both transcript shapes."""

    def __init__(self, started: dt.datetime) -> None:
        self.started = started
        self._kept = bytearray()
        self.truncated = False
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""

    def feed(self, data: bytes) -> None:
        """Output the client was sent."""
        room = MAX_KEPT - len(self._kept)
        if len(data) > room:
            self.truncated = True
        self._kept += data[: max(room, 0)]
        self._pending += self._decoder.decode(data)

    def take_lines(self) -> list[str]:
        """The text since the last call, as a streaming event's `sessionData`."""
        text = self._pending
        unfinished = _UNFINISHED.search(text)
        cut = unfinished.start() if unfinished else len(text)
        text, self._pending = text[:cut], text[cut:]
        if not text:
            return []
        lines = strip_terminal(text).split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return lines

    def event(self, identity: Identity, lines: list[str], now: dt.datetime) -> str:
        """One streaming event (compact JSON, keys in the agent's order)."""
        return json.dumps(
            {
                "eventVersion": "1.0",
                "eventTime": iso_z(now),
                "awsRegion": identity.region,
                "target": {"id": identity.target},
                "userIdentity": {"arn": identity.owner_arn},
                "runAsUser": identity.run_as_user,
                "sessionId": identity.session_id,
                "sessionData": lines,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )

    def script(self, ended: dt.datetime, exit_code: int | None, terminal: str) -> str:
        """The plain-text transcript, as `script` writes it. `terminal` is the bracket of
        its first line (`TERM="xterm-256color" TTY="/dev/pts/3" COLUMNS="80" LINES="24"`,
        or `<not executed on terminal>`)."""
        body = bytes(self._kept).decode("utf-8", errors="replace")
        if self.truncated:
            body += f"\n[transcript truncated after {MAX_KEPT} bytes]\n"
        status = f'[COMMAND_EXIT_CODE="{exit_code}"]' if exit_code is not None else ""
        head = f"Script started on {script_time(self.started)} [{terminal}]\n"
        tail = f"\nScript done on {script_time(ended)} {status}".rstrip() + "\n"
        return head + body + tail


def event_chunks(text: str, limit: int = EVENT_CHUNK) -> list[str]:
    """`text` cut into pieces of at most `limit` UTF-8 bytes, never inside a character."""
    from ssmctl.datachannel.chunking import utf8_chunks

    return [chunk.decode("utf-8") for chunk in utf8_chunks(text.encode("utf-8"), limit)]
