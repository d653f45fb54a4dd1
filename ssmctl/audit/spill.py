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
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any, Generic, TypeVar

from ssmctl.audit.events import AuditEvent

T = TypeVar("T")
K = TypeVar("K")

DEFAULT_CHUNK = 2000
_BATCH = 64
"""Items pickled together: one pickle call per batch, not per item. Merging holds one
batch per run in memory."""
MAX_RUNS = 16
"""Runs merged at once: beyond this many, the runs so far are merged into one first, so
memory stays bounded however many items there are."""
_PROTOCOL = pickle.HIGHEST_PROTOCOL


class ChronoSorter(Generic[T]):
    """Collect items with `add`, then `drain()` them sorted by `key` (stable).

    `pack` / `unpack` turn an item into something cheaper to pickle (a tuple) and back.
    """

    def __init__(
        self,
        key: Callable[[T], Any],
        *,
        chunk: int = DEFAULT_CHUNK,
        pack: Callable[[T], Any] | None = None,
        unpack: Callable[[Any], T] | None = None,
    ) -> None:
        if chunk < 1:
            raise ValueError("chunk must be at least 1")
        self._key = key
        self._chunk = chunk
        self._pack = pack
        self._unpack = unpack
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
        self._runs.append(self._write_run(self._buffer))
        self._buffer = []
        if len(self._runs) >= MAX_RUNS:
            runs, self._runs = self._runs, []
            try:
                self._runs.append(self._write_run(self._merged(runs)))
            finally:
                for run in runs:
                    run.close()

    def _write_run(self, items: Iterable[T]) -> IO[bytes]:
        run = tempfile.TemporaryFile()  # noqa: SIM115 (closed in drain or close)
        pack = self._pack
        batch: list[Any] = []
        for item in items:
            batch.append(pack(item) if pack else item)
            if len(batch) >= _BATCH:
                pickle.dump(batch, run, _PROTOCOL)
                batch = []
        if batch:
            pickle.dump(batch, run, _PROTOCOL)
        run.seek(0)
        return run

    def _merged(self, runs: list[IO[bytes]]) -> Iterator[T]:
        readers = [_read_run(r, self._unpack) for r in runs]
        return heapq.merge(*readers, key=self._key)

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
            yield from self._merged(runs)
        finally:
            for run in runs:
                run.close()

    def close(self) -> None:
        for run in self._runs:
            run.close()
        self._runs, self._buffer, self.count = [], [], 0


def _read_run(run: IO[bytes], unpack: Callable[[Any], Any] | None) -> Iterator[Any]:
    while True:
        try:
            # Our own temporary file, written above in this process: trusted input.
            batch = pickle.load(run)  # noqa: S301
        except EOFError:
            return
        yield from (map(unpack, batch) if unpack else batch)


def event_sorter(chunk: int = DEFAULT_CHUNK) -> ChronoSorter[AuditEvent]:
    """A sorter of audit events in time order (`AuditEvent.sort_key`)."""
    return ChronoSorter(
        lambda e: e.sort_key, chunk=chunk, pack=AuditEvent.packed, unpack=AuditEvent.unpacked
    )


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
