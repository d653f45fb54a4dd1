"""Sorting in bounded memory, and merging concurrent sorted streams."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Generator, Iterator

import pytest

from ssmctl.audit.spill import ChronoSorter, dedupe_sorted, merge_threads


@pytest.mark.parametrize("chunk", [1, 7, 1000])
def test_sorter_sorts_any_amount_with_at_most_chunk_items_in_memory(chunk: int) -> None:
    rng = random.Random(chunk)
    items = [(rng.randrange(50), n) for n in range(300)]
    sorter: ChronoSorter[tuple[int, int]] = ChronoSorter(lambda item: item[0], chunk=chunk)
    for item in items:
        sorter.add(item)
        assert len(sorter._buffer) < chunk
    assert sorter.count == 300
    out = list(sorter.drain())
    # Stable: equal keys keep the order they were added in.
    assert out == sorted(items, key=lambda item: item[0])
    assert sorter.spilled == 0 and sorter.count == 0
    assert list(sorter.drain()) == []


def test_dedupe_sorted_drops_neighbours_with_the_same_key() -> None:
    items = [(1, "a"), (1, "a"), (2, "b"), (2, "c"), (2, "c")]
    assert list(dedupe_sorted(iter(items), lambda item: item)) == [(1, "a"), (2, "b"), (2, "c")]


def test_merge_threads_merges_sorted_sources() -> None:
    def source(start: int, step: int) -> Iterator[int]:
        for value in range(start, 200, step):
            time.sleep(0.0001)
            yield value

    merged = list(
        merge_threads(
            [lambda: source(0, 3), lambda: source(1, 3), lambda: source(2, 3)],
            key=lambda v: v,
            buffer=5,
        )
    )
    assert merged == list(range(200))


def test_merge_threads_raises_a_source_error() -> None:
    def good() -> Iterator[int]:
        yield from range(1000)

    def bad() -> Iterator[int]:
        yield 1
        raise RuntimeError("page 3 failed")

    with pytest.raises(RuntimeError, match="page 3 failed"):
        list(merge_threads([good, bad], key=lambda v: v, buffer=2))


def test_closing_the_merge_stops_its_threads() -> None:
    def endless() -> Iterator[int]:
        n = 0
        while True:
            n += 1
            yield n

    before = threading.active_count()
    merged = merge_threads([endless, endless], key=lambda v: v, buffer=3)
    assert isinstance(merged, Generator)
    assert next(merged) == 1
    merged.close()
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() <= before
