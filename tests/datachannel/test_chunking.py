"""Payload chunking: sizes, and agent output never splitting a UTF-8 character."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssmctl.datachannel.chunking import Utf8Chunker, chunk_bytes, incomplete_tail, utf8_chunks

from .helpers import QUICK


def test_chunk_bytes() -> None:
    assert list(chunk_bytes(b"")) == []
    assert [len(c) for c in chunk_bytes(b"x" * 2049)] == [1024, 1024, 1]


def test_a_character_across_the_limit_moves_to_the_next_chunk() -> None:
    data = b"a" * 1022 + "€".encode() + b"b"  # the euro sign is 3 bytes: 1022..1024
    chunks = utf8_chunks(data)
    assert [len(c) for c in chunks] == [1022, 4]
    assert all(c.decode("utf-8") for c in chunks)


def test_an_unfinished_character_waits_for_the_next_read() -> None:
    chunker = Utf8Chunker()
    euro = "€".encode()
    assert chunker.feed(b"ab" + euro[:1]) == [b"ab"]
    assert chunker.feed(euro[1:2]) == []
    assert chunker.feed(euro[2:] + b"c") == [euro + b"c"]
    assert chunker.flush() == []


def test_flush_returns_a_truncated_character_at_end_of_stream() -> None:
    chunker = Utf8Chunker()
    assert chunker.feed(b"\xf0\x9f") == []
    assert chunker.flush() == [b"\xf0\x9f"]


def test_incomplete_tail() -> None:
    assert incomplete_tail(b"") == 0
    assert incomplete_tail(b"abc") == 0
    assert incomplete_tail("é".encode()) == 0
    assert incomplete_tail(b"a\xc3") == 1
    assert incomplete_tail(b"\xe2\x82") == 2
    assert incomplete_tail(b"\xf0\x9f\x98") == 3
    assert incomplete_tail("😀".encode()) == 0
    assert incomplete_tail(b"\x80\x80\x80") == 0  # not UTF-8: cut anywhere
    assert incomplete_tail(b"\xff") == 0


def test_binary_output_is_still_cut_at_the_limit() -> None:
    data = bytes(range(256)) * 20
    chunks = utf8_chunks(data)
    assert b"".join(chunks) == data
    assert all(0 < len(c) <= 1024 for c in chunks)


def test_limit_must_hold_a_character() -> None:
    with pytest.raises(ValueError, match="4-byte"):
        Utf8Chunker(3)


@QUICK
@given(
    st.text(max_size=1500),
    st.lists(st.integers(0, 3000), max_size=8),
    st.integers(4, 1024),
)
def test_chunks_always_decode_on_their_own(text: str, cuts: list[int], limit: int) -> None:
    data = text.encode("utf-8")
    points = sorted({min(c, len(data)) for c in cuts})
    reads = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    chunker = Utf8Chunker(limit)
    chunks = [c for read in reads for c in chunker.feed(read)] + chunker.flush()
    assert b"".join(chunks) == data
    for chunk in chunks:
        assert 0 < len(chunk) <= limit
        chunk.decode("utf-8")  # never a split character
