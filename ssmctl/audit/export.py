"""Writing an export: atomically, privately, resumably, one record at a time.

Guarantees (docs/audit.md, "Export"):

- **Atomic.** Records go to a file nobody can see under the final name: an unnamed
  `O_TMPFILE` file in the destination directory where the system has it (Linux), else
  `.<name>.<pid>.<random>.ssmctl-partial` there. Only a complete export is flushed,
  fsynced and renamed over the destination (then the directory is fsynced). An error,
  Ctrl-C or a kill leaves the previous file untouched and no partial file; a kill can
  leave a named `.ssmctl-partial` file only on systems without `O_TMPFILE`, and the next
  export to that destination removes those whose process is gone.
- **Private.** The file is created with mode 0600, whatever the umask.
- **Streaming.** Each record is written as it comes; memory does not grow with the count.
- **Resumable** (jsonl, csv): `ResumePoint.read` finds the newest record's time in an
  existing export and the ids in its last `overlap`; the export continues from there,
  skipping those ids, after a copy of the existing records.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import dataclasses
import datetime as dt
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from ssmctl.errors import UsageError
from ssmctl.output import csv_cell
from ssmctl.sanitize import json_dumps, terminal_safe

EXPORT_FORMATS = ("jsonl", "json", "csv")
RESUMABLE = ("jsonl", "csv")
PARTIAL_SUFFIX = ".ssmctl-partial"
RESUME_OVERLAP = dt.timedelta(minutes=15)
"""How far back a resumed export looks again: CloudTrail can make an event visible in
LookupEvents (and in trail files) up to about 15 minutes after it happened."""


_EXCLUSIVE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def partial_name(path: Path) -> str:
    return f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}"


def sweep_partials(path: Path) -> list[Path]:
    """Remove `.ssmctl-partial` files of `path` left by exports that no longer run."""
    removed = []
    for candidate in path.parent.glob(f".{path.name}.*{PARTIAL_SUFFIX}"):
        middle = candidate.name[len(path.name) + 2 : -len(PARTIAL_SUFFIX)]
        pid_text = middle.split(".", 1)[0]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        with contextlib.suppress(FileNotFoundError):
            candidate.unlink()
            removed.append(candidate)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class AtomicFile:
    """`with AtomicFile(path) as out: ...; out_file.commit()` (module docstring).

    Leaving the block without `commit()` (an exception, Ctrl-C) discards everything.
    """

    def __init__(self, path: str | os.PathLike[str], *, unnamed: bool = True) -> None:
        self.path = Path(path)
        self._unnamed = unnamed and hasattr(os, "O_TMPFILE")
        self._temp: Path | None = None
        self._fd = -1
        self.stream: IO[str] | None = None
        self.committed = False

    def __enter__(self) -> AtomicFile:
        directory = self.path.parent
        if not directory.is_dir():
            raise UsageError(f"cannot write {self.path}: {directory} is not a directory")
        sweep_partials(self.path)
        self._fd = self._open(directory)
        os.fchmod(self._fd, 0o600)
        self.stream = open(self._fd, "w", encoding="utf-8", newline="", closefd=True)
        return self

    def _open(self, directory: Path) -> int:
        if self._unnamed:
            try:
                # O_RDWR: should naming it fail at the end, it can still be copied.
                return os.open(directory, os.O_TMPFILE | os.O_RDWR, 0o600)
            except OSError:
                self._unnamed = False  # not on this file system: a named one instead
        self._temp = directory / partial_name(self.path)
        try:
            return os.open(self._temp, _EXCLUSIVE, 0o600)
        except OSError as exc:
            self._temp = None
            raise UsageError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def commit(self) -> None:
        """Make the file durable and put it in place of `path`."""
        assert self.stream is not None
        self.stream.flush()
        os.fsync(self._fd)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            if self._temp is None:
                self._temp = self._name_unnamed(directory)
            os.replace(self._temp, self.path)
            self._temp = None
            self.committed = True
            self.stream.close()
            os.fsync(directory)
        finally:
            os.close(directory)

    def _name_unnamed(self, directory: int) -> Path:
        """A name next to the destination for the unnamed file (then renamed over it)."""
        temp = self.path.parent / partial_name(self.path)
        try:
            # linkat(AT_SYMLINK_FOLLOW) on /proc/self/fd/N: a dir fd makes Python use linkat.
            os.link(f"/proc/self/fd/{self._fd}", temp.name, dst_dir_fd=directory)
        except OSError:
            # No /proc, or the system refuses: copy it into a named file instead.
            with open(temp, "xb") as copy:
                os.fchmod(copy.fileno(), 0o600)
                os.lseek(self._fd, 0, os.SEEK_SET)
                while block := os.read(self._fd, 1 << 20):
                    copy.write(block)
                copy.flush()
                os.fsync(copy.fileno())
        return temp

    def __exit__(self, *exc: object) -> None:
        if self.stream is not None and not self.stream.closed:
            with contextlib.suppress(OSError):
                self.stream.close()
        if self._temp is not None:
            with contextlib.suppress(FileNotFoundError):
                self._temp.unlink()
            self._temp = None


@dataclasses.dataclass
class ResumePoint:
    """Where an existing export ends: its newest time, and the ids near it."""

    last: dt.datetime | None = None
    count: int = 0
    seen: set[str] = dataclasses.field(default_factory=set)
    """Ids of the records in the last `RESUME_OVERLAP` before `last`."""
    fieldnames: list[str] | None = None

    @property
    def since(self) -> dt.datetime | None:
        return self.last - RESUME_OVERLAP if self.last is not None else None

    @classmethod
    def read(cls, path: Path, fmt: str, *, id_field: str, time_field: str) -> ResumePoint:
        """Scan an existing export (streaming). A missing file resumes from nothing."""
        if fmt not in RESUMABLE:
            raise UsageError(f"--resume works with {' or '.join(RESUMABLE)} exports, not {fmt}")
        point = cls()
        if not path.exists():
            return point
        recent: collections.deque[tuple[dt.datetime, str]] = collections.deque()
        with path.open(encoding="utf-8", newline="") as source:
            for line, record in _records(source, fmt, path, point):
                when = _time(record.get(time_field))
                if when is None:
                    continue
                point.count += 1
                if point.last is None or when > point.last:
                    point.last = when
                    while recent and recent[0][0] < when - RESUME_OVERLAP:
                        recent.popleft()
                ident = record.get(id_field)
                if not ident:
                    raise UsageError(f"cannot resume: {path}:{line} has no {id_field}")
                recent.append((when, str(ident)))
        if point.last is not None:
            low = point.last - RESUME_OVERLAP
            point.seen = {ident for when, ident in recent if when >= low}
        return point


def _records(
    source: IO[str], fmt: str, path: Path, point: ResumePoint
) -> Iterator[tuple[int, Mapping[str, Any]]]:
    if fmt == "csv":
        reader = csv.DictReader(source)
        point.fieldnames = list(reader.fieldnames or [])
        for record in reader:
            yield reader.line_num, record
        return
    for number, text in enumerate(source, 1):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except ValueError:
            raise UsageError(f"cannot resume: {path}:{number} is not a JSON record") from None
        if not isinstance(record, dict):
            raise UsageError(f"cannot resume: {path}:{number} is not a JSON object")
        yield number, record


def _time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


class RecordWriter:
    """Writes records to a stream as jsonl, json (one array) or csv (formula-safe)."""

    def __init__(
        self,
        out: IO[str],
        fmt: str,
        *,
        fieldnames: Sequence[str] | None = None,
        header: bool = True,
    ) -> None:
        if fmt not in EXPORT_FORMATS:
            raise UsageError(f"unknown export format {fmt!r}; expected {', '.join(EXPORT_FORMATS)}")
        self.out = out
        self.fmt = fmt
        self.count = 0
        self._fieldnames = list(fieldnames) if fieldnames else None
        self._header = header
        self._csv: Any = None

    def write(self, record: Mapping[str, Any]) -> None:
        if self.fmt == "jsonl":
            self.out.write(json_dumps(record) + "\n")
        elif self.fmt == "json":
            self.out.write(",\n  " if self.count else "[\n  ")
            self.out.write(json_dumps(record, indent=2).replace("\n", "\n  "))
        else:
            if self._csv is None:
                names = self._fieldnames or list(record)
                if self._fieldnames and set(record) - set(names):
                    raise UsageError(
                        "cannot resume: the existing export has other columns "
                        f"(missing {', '.join(sorted(set(record) - set(names)))})"
                    )
                self._csv = csv.DictWriter(self.out, fieldnames=names, lineterminator="\n")
                if self._header:
                    self._csv.writeheader()
            self._csv.writerow({k: csv_cell(v) for k, v in record.items()})
        self.count += 1

    def close(self) -> None:
        if self.fmt == "json":
            self.out.write("\n]\n" if self.count else "[]\n")


def copy_existing(path: Path, out: IO[str]) -> None:
    """The records of an export being resumed, copied into the new file."""
    with path.open(encoding="utf-8", newline="") as source:
        shutil.copyfileobj(source, out, 1024 * 1024)


class Summary:
    """Counts by user and by target, for the line printed at the end of an export."""

    def __init__(self) -> None:
        self.total = 0
        self.users: collections.Counter[str] = collections.Counter()
        self.targets: collections.Counter[str] = collections.Counter()
        self.first: str | None = None
        self.last: str | None = None

    def add(self, record: Mapping[str, Any], time_field: str) -> None:
        self.total += 1
        self.users[str(record.get("user_name") or record.get("user_arn") or "(unknown)")] += 1
        # Resume and Terminate events name no target.
        self.targets[str(record.get("target") or "(none)")] += 1
        when = record.get(time_field)
        if when:
            self.first = min(self.first or when, when)
            self.last = max(self.last or when, when)

    def lines(self, what: str, top: int = 10) -> list[str]:
        span = f" from {self.first} to {self.last}" if self.first else ""
        out = [f"{self.total} {what}{span}"]
        for title, counter in (("by user", self.users), ("by target", self.targets)):
            if not counter:
                continue
            shown = counter.most_common(top)
            text = ", ".join(f"{terminal_safe(name)} {count}" for name, count in shown)
            more = len(counter) - len(shown)
            out.append(f"  {title}: {text}" + (f" (and {more} more)" if more > 0 else ""))
        return out


def skip_seen(
    records: Iterable[Mapping[str, Any]], seen: set[str], id_field: str
) -> Iterator[Mapping[str, Any]]:
    """Drop the records a resumed export already holds."""
    for record in records:
        if seen and str(record.get(id_field)) in seen:
            continue
        yield record


def write_export(
    records: Iterable[Mapping[str, Any]],
    fmt: str,
    *,
    path: Path | None,
    stdout: IO[str] | None = None,
    resume: ResumePoint | None = None,
    id_field: str = "event_id",
    on_record: Callable[[Mapping[str, Any]], None] | None = None,
    unnamed_temp: bool = True,
) -> int:
    """Write `records` to `path` atomically (or to `stdout` when `path` is None), after
    the existing records when resuming; returns how many new records were written."""
    if path is None:
        assert stdout is not None
        writer = RecordWriter(stdout, fmt)
        _write_all(writer, records, on_record)
        stdout.flush()
        return writer.count
    with AtomicFile(path, unnamed=unnamed_temp) as target:
        assert target.stream is not None
        header = True
        if resume is not None and resume.count + len(resume.fieldnames or []) > 0:
            copy_existing(path, target.stream)
            header = not resume.fieldnames
        writer = RecordWriter(
            target.stream,
            fmt,
            fieldnames=resume.fieldnames if resume is not None else None,
            header=header,
        )
        if resume is not None:
            records = skip_seen(records, resume.seen, id_field)
        _write_all(writer, records, on_record)
        target.commit()
    return writer.count


def _write_all(
    writer: RecordWriter,
    records: Iterable[Mapping[str, Any]],
    on_record: Callable[[Mapping[str, Any]], None] | None,
) -> None:
    for record in records:
        writer.write(record)
        if on_record is not None:
            on_record(record)
    writer.close()
