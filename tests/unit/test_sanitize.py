from __future__ import annotations

import json

from ssmctl.sanitize import csv_safe, json_dumps, terminal_safe

HOSTILE = "web\x1b[2J\x1b]0;pwned\x07\x9b31m\u202eevil\nline2\r[bold red]x[/]"


def test_terminal_safe_leaves_no_control_characters() -> None:
    text = terminal_safe(HOSTILE)
    assert all(c.isprintable() for c in text)
    assert "\\x1b[2J" in text and "\\u202e" in text and "\\n" in text
    assert "[bold red]" in text  # markup is neutralised by never rendering it as markup


def test_csv_safe_blocks_formulas() -> None:
    for cell in ("=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(A1)", "  =x", "＝1"):
        assert csv_safe(cell).startswith("'"), cell
    assert csv_safe("\t=x") == "\\t=x"  # the tab is shown, not kept: nothing to evaluate
    assert csv_safe("web-1") == "web-1"


def test_json_escapes_c1_and_bidi_but_keeps_unicode() -> None:
    text = json_dumps({"name": "café \x9b \u202e"})
    assert "café" in text
    assert "\x9b" not in text and "\u202e" not in text
    assert json.loads(text) == {"name": "café \x9b \u202e"}
