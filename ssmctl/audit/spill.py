"""Sorting a stream of any length in bounded memory, and merging concurrent streams.

Audit sources do not hand events over in time order (LookupEvents pages are newest
first; trail files overlap and arrive late), yet outputs are chronological and exports
must not grow with the number of events. `ChronoSorter` keeps at most `chunk` items in
memory: beyond that it writes sorted runs to anonymous temporary files (deleted by the
operating system even if the process is killed) and merges them on the way out.
`merge_threads` runs several sources at once (one per region) and merges their sorted
outputs, each through a bounded queue.
"""

from __future__ import annotations

import heapq
import pickle
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import IO, Any, Generic, TypeVar

T = TypeVar("T")
K = TypeVar("K")

DEFAULT_CHUNK = 2000


class ChronoSorter(Generic[T]):
    """Collect items with `add`, then `drain()` them sorted by `key` (stable)."""

    def __init__(self, key: Callable[[T], Any], *, chunk: int = DEFAULT_CHUNK) -> None:
        if chunk < 1:
            raise ValueError("chunk must be at least 1")
        self._key = key
        self._chunk = chunk
        self._buffer: list[T] = []
        self._runs: list[IO[bytes]] = []
        self.count = 0

    @property
    def spilled(self) -> int:
        """How many sorted runs went to temporary files."""
        return len(self._runs)

    def add(self, item: T) -> None:
        self._buffer.append(item)
        self.count += 1
        if len(self._buffer) >= self._chunk:
            self._spill()

    def _spill(self) -> None:
        self._buffer.sort(key=self._key)
        run = tempfile.TemporaryFile()  # noqa: SIM115 (closed in drain)
        pickler = pickle.Pickler(run, protocol=pickle.HIGHEST_PROTOCOL)
        for item in self._buffer:
            pickler.dump(item)
            # Pickler memoises what it wrote; a run must not keep every item alive.
            pickler.clear_memo()
        run.seek(0)
        self._runs.append(run)
        self._buffer = []

    def drain(self) -> Iterator[T]:
        """Every item added so far, sorted; the sorter is empty afterwards."""
        if not self._runs:
            items, self._buffer, self.count = self._buffer, [], 0
            items.sort(key=self._key)
            yield from items
            return
        if self._buffer:
            self._spill()
        runs, self._runs, self.count = self._runs, [], 0
        try:
            yield from heapq.merge(*(_read_run(r) for r in runs), key=self._key)
        finally:
            for run in runs:
                run.close()

    def close(self) -> None:
        for run in self._runs:
            run.close()
        self._runs, self._buffer, self.count = [], [], 0


def _read_run(run: IO[bytes]) -> Iterator[Any]:
    # Our own temporary file, written above in this process: trusted input.
    unpickler = pickle.Unpickler(run)  # noqa: S301
    while True:
        try:
            yield unpickler.load()
        except EOFError:
            return


def dedupe_sorted(items: Iterator[T], key: Callable[[T], Any]) -> Iterator[T]:
    """Drop items whose key equals the previous item's (duplicates sort next to each other)."""
    previous: Any = object()
    for item in items:
        current = key(item)
        if current != previous:
            yield item
        previous = current


class _Done:
    pass


_DONE = _Done()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def merge_threads(
    sources: Sequence[Callable[[], Iterator[T]]],
    key: Callable[[T], Any],
    *,
    buffer: int = 500,
) -> Iterator[T]:
    """Run every source in its own thread and merge their (sorted) items by `key`.

    Each source feeds a queue of at most `buffer` items, so a fast source waits for the
    merge instead of filling memory. An error in any source is raised here. Closing the
    returned iterator stops the threads.
    """
    if len(sources) == 1:
        yield from sources[0]()
        return
    stop = threading.Event()
    queues: list[queue.Queue[Any]] = [queue.Queue(maxsize=buffer) for _ in sources]
    threads = [
        threading.Thread(
            target=_produce, args=(source, q, stop), name="ssmctl-audit-source", daemon=True
        )
        for source, q in zip(sources, queues, strict=True)
    ]
    for thread in threads:
        thread.start()
    try:
        yield from heapq.merge(*(_consume(q) for q in queues), key=key)
    finally:
        stop.set()
        for q in queues:
            _empty(q)
        for thread in threads:
            thread.join(timeout=5)


def _produce(
    source: Callable[[], Iterator[Any]], out: queue.Queue[Any], stop: threading.Event
) -> None:
    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                out.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    try:
        for item in source():
            if not put(item):
                return
    except BaseException as exc:
        put(_Failed(exc))
        return
    put(_DONE)


def _consume(source: queue.Queue[Any]) -> Iterator[Any]:
    while True:
        item = source.get()
        if item is _DONE:
            return
        if isinstance(item, _Failed):
            raise item.error
        yield item


def _empty(q: queue.Queue[Any]) -> None:
    try:
        while True:
            q.get_nowait()
    except queue.Empty:
        return
