"""The pieces of `exec` that need no session: quoting, labels, line prefixes, aggregation."""

from __future__ import annotations

import asyncio
import shlex

import pytest

from ssmctl.errors import UsageError
from ssmctl.execute import LinePrefixer, aggregate, command_line, exec_request, labels
from ssmctl.models import Instance


def test_each_argument_is_quoted_for_sh() -> None:
    argv = ["grep", "a b", "$(rm -rf /)", "x;y", "it's"]
    line = command_line(argv)
    assert shlex.split(line) == argv
    with pytest.raises(UsageError):
        command_line([])


def test_request_asks_for_separate_streams() -> None:
    request = exec_request("i-1", ["uptime"], reason="check")
    assert request == {
        "Target": "i-1",
        "DocumentName": "AWS-StartNonInteractiveCommand",
        "Parameters": {"command": ["uptime"], "separateOutputStream": ["true"]},
        "Reason": "check",
    }


def test_labels_use_unique_names_else_ids_and_are_inert() -> None:
    found = [
        Instance("i-1", "r", name="web-1"),
        Instance("i-2", "r", name="app"),
        Instance("i-3", "r", name="app"),
        Instance("i-4", "r"),
        Instance("i-5", "r", name="evil\x1b[2J"),
    ]
    assert labels(found) == {
        "i-1": "web-1",
        "i-2": "i-2",
        "i-3": "i-3",
        "i-4": "i-4",
        "i-5": "evil\\x1b[2J",
    }


class _Collect:
    def __init__(self) -> None:
        self.data = b""

    async def write(self, data: bytes) -> None:
        self.data += data

    async def drain(self) -> None:
        pass


def test_line_prefixer_writes_whole_prefixed_lines() -> None:
    sink = _Collect()
    prefixer = LinePrefixer(sink, b"web-1 | ")

    async def run() -> None:
        await prefixer.write(b"one\ntw")
        assert sink.data == b"web-1 | one\n"
        await prefixer.write(b"o\n\nthr")
        await prefixer.flush()
        await prefixer.flush()

    asyncio.run(run())
    assert sink.data == b"web-1 | one\nweb-1 | two\nweb-1 | \nweb-1 | thr\n"


def test_aggregate() -> None:
    assert aggregate([0, 0, 0]) == 0
    assert aggregate([0, 3, 1]) == 3
    assert aggregate([]) == 0
