"""Make untrusted text (tags, reasons, CloudTrail fields, transcripts) inert.

Terminal: control characters (C0, DEL, C1) and bidirectional overrides are shown as
escapes instead of being interpreted. CSV: the same, plus a leading quote on cells that
a spreadsheet would take for a formula.
"""

from __future__ import annotations

import json
import re
from typing import Any

# C0 controls, DEL, C1 controls, and the Unicode bidi embedding/override/isolate marks.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
# What json.dumps(ensure_ascii=False) leaves raw inside strings (it escapes C0 itself).
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def terminal_safe(value: object) -> str:
    """Text that cannot move the cursor, change colours or reorder what follows it."""
    text = value if isinstance(value, str) else str(value)
    return _UNSAFE.sub(_escape, text)


# Terminal escape sequences: CSI (also the 8-bit form), OSC, character-set designations,
# and the other two-byte escapes.
_SEQUENCE = re.compile(
    "\x1b\\[[0-?]*[ -/]*[@-~]|\x9b[0-?]*[ -/]*[@-~]"
    "|\x1b\\][^\x07\x1b]*(?:\x07|\x1b\\\\)"
    "|\x1b[()*+][0-~]|\x1b[@-Z\\\\-_=>78]"
)
# In a transcript newline and tab are text; every other character _UNSAFE lists is escaped.
_UNSAFE_IN_TRANSCRIPT = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)


def transcript_safe(text: str) -> str:
    """A session transcript fit for a terminal: escape sequences (colours, cursor moves,
    titles) removed, CRLF read as a newline, every other control character shown as an
    escape. Newlines and tabs stay: it is text to read, not a table cell."""
    text = _SEQUENCE.sub("", text).replace("\r\n", "\n")
    return _UNSAFE_IN_TRANSCRIPT.sub(_escape, text)


def csv_safe(value: object) -> str:
    """A CSV cell that no spreadsheet evaluates and no terminal interprets."""
    text = terminal_safe(value)
    if text.lstrip(" ").startswith(_FORMULA_START):
        return "'" + text
    return text


def json_dumps(value: Any, *, indent: int | None = None) -> str:
    """JSON that keeps non-ASCII text readable but escapes every control character.

    The json module escapes C0 controls; C1 controls and bidi marks would pass through
    raw with ensure_ascii=False, so they are escaped here as \\uXXXX.
    """
    text = json.dumps(value, ensure_ascii=False, indent=indent, default=str)
    if text.isascii() and "\x7f" not in text:
        return text  # the common case, and big exports write many records: skip the scan
    return _UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
