from __future__ import annotations

from ssmctl.cli.picker import split_keys


def test_keys_typed_together_are_split() -> None:
    assert split_keys(b"web\r") == [b"w", b"e", b"b", b"\r"]
    assert split_keys(b"\x1b[B\x1b[A\r") == [b"\x1b[B", b"\x1b[A", b"\r"]
    assert split_keys(b"\x1bOB") == [b"\x1bOB"]
    assert split_keys(b"\x1b") == [b"\x1b"]
    assert split_keys("é\r".encode()) == ["é".encode(), b"\r"]
