"""`ssmctl audit export`: events or session records to a file, for a SIEM."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ssmctl.cli.audit_sources import (
    Filters,
    event_stream,
    filter_options,
    plan,
    session_stream,
    transcript_options,
)
from ssmctl.cli.context import App
from ssmctl.cli.options import common_options
from ssmctl.cli.registry import exit_codes_epilog
from ssmctl.errors import UsageError

if TYPE_CHECKING:
    from ssmctl.audit.export import ResumePoint

_FIELDS = {"events": ("event_id", "time"), "sessions": ("session_id", "start")}


@click.command("export", epilog=exit_codes_epilog())
@click.option(
    "--out",
    "out",
    metavar="FILE",
    required=True,
    help="Where to write ('-': stdout). Written atomically, mode 0600.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "json", "csv"]),
    default="jsonl",
    show_default=True,
    help="jsonl (one record a line), json (one array) or csv (formula-safe cells).",
)
@click.option(
    "--what",
    type=click.Choice(["events", "sessions"]),
    default="events",
    show_default=True,
    help="CloudTrail events, or one record per session.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an existing jsonl/csv export: from its newest record's time minus "
    "15 minutes, skipping records it already holds.",
)
@click.option(
    "--include-transcripts",
    is_flag=True,
    help="With --what sessions: add each transcript's text (transcript_text).",
)
@click.option(
    "--include-raw",
    is_flag=True,
    help="With --what events: add the CloudTrail record (cloudtrail; stream URLs hidden).",
)
@filter_options()
@transcript_options
@common_options(fan_out=True)
def export(
    app: App,
    out: str,
    fmt: str,
    what: str,
    resume: bool,
    include_transcripts: bool,
    include_raw: bool,
    log_group: str | None,
    bucket: str | None,
    **filters: Any,
) -> int:
    """Export events or session records, streaming, in constant memory.

    Records are written as they are read (oldest first) to a hidden temporary file in
    the destination's directory, then renamed over FILE once complete: an error, Ctrl-C
    or a kill leaves no partial file and the previous FILE as it was. Stream URLs and
    tokens never appear. A progress bar shows on stderr when it is a terminal; counts by
    user and by target are printed on stderr at the end. See docs/audit.md.
    """
    from ssmctl.audit.export import Summary, write_export

    _check(what, include_transcripts, include_raw, filters.get("event_names"))
    id_field, time_field = _FIELDS[what]
    path = None if out == "-" else Path(out).expanduser()
    point = _resume_point(app, path, fmt, what) if resume else None
    since = point.since if point is not None else None
    plan_ = plan(app, Filters(**filters), since=since)
    for note in plan_.notes:
        app.notice(f"ssmctl: note: {note}")
    records: Iterator[Mapping[str, Any]]
    if what == "events":
        records = _event_records(plan_, include_raw)
    else:
        stream = session_stream(plan_, transcripts=True, log_group=log_group, bucket=bucket)
        session_records: Iterator[dict[str, Any]] = (r.to_record() for r in stream)
        if include_transcripts:
            session_records = _with_transcripts(plan_.aws, session_records)
        records = session_records
    summary = Summary()
    progress = _Progress(app, plan_.query.since, plan_.query.until, time_field)

    def seen(record: Mapping[str, Any]) -> None:
        summary.add(record, time_field)
        progress.update(record)

    try:
        write_export(
            records,
            fmt,
            path=path,
            stdout=app.stdout,
            resume=point,
            id_field=id_field,
            on_record=seen,
        )
    except BaseException:
        progress.close()
        if path is not None:
            app.notice(f"ssmctl: nothing written: {path} is as it was")
        raise
    progress.close()
    where = "stdout" if path is None else str(path)
    for line in summary.lines(what):
        app.notice(line)
    app.notice(f"written to {where}")
    return 0


def _check(what: str, transcripts: bool, raw: bool, event_names: str | None) -> None:
    if transcripts and what != "sessions":
        raise UsageError(
            "--include-transcripts needs --what sessions (transcripts are per session)"
        )
    if raw and what != "events":
        raise UsageError("--include-raw needs --what events")
    if what == "sessions" and event_names:
        raise UsageError("--event applies to --what events")


def _resume_point(app: App, path: Path | None, fmt: str, what: str) -> ResumePoint:
    from ssmctl.audit.export import ResumePoint

    if path is None:
        raise UsageError("--resume needs --out FILE (it continues that file)")
    id_field, time_field = _FIELDS[what]
    point = ResumePoint.read(path, fmt, id_field=id_field, time_field=time_field)
    if point.last is not None:
        app.notice(
            f"ssmctl: resuming after {point.count} records: from {_iso(point.since)} "
            f"(newest {_iso(point.last)} minus 15 minutes), skipping {len(point.seen)} "
            "already exported"
        )
    return point


def _event_records(plan_: Any, include_raw: bool) -> Iterator[dict[str, Any]]:
    for event in event_stream(plan_, keep_raw=include_raw):
        record = event.to_record()
        if include_raw:
            record["cloudtrail"] = event.raw
        yield record


def _with_transcripts(aws: Any, records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each session record with its transcript's text, a few fetched ahead at a time."""
    import concurrent.futures

    from ssmctl.audit.trail_files import bounded_map
    from ssmctl.audit.transcript_read import location_from_url, transcript_text

    def add(record: dict[str, Any]) -> dict[str, Any]:
        url = record.get("transcript")
        location = location_from_url(url, str(record["region"])) if url else None
        record["transcript_text"] = transcript_text(location, aws.client) if location else None
        return record

    with concurrent.futures.ThreadPoolExecutor(4, "ssmctl-transcript-text") as pool:
        yield from bounded_map(pool, add, records, window=4)


class _Progress:
    """A progress bar on stderr (a terminal only): how far through the time range the
    export is, from each record's time (records come oldest first)."""

    def __init__(self, app: App, since: dt.datetime, until: dt.datetime, field: str) -> None:
        self._field = field
        self._since = since
        self._bar: Any = None
        self._count = 0
        if not app.stderr_isatty:
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(
            TextColumn("exporting"),
            BarColumn(),
            TextColumn("{task.fields[count]} records, at {task.fields[when]}"),
            TimeElapsedColumn(),
            console=Console(file=app.stderr, no_color=not app.settings.color),
            transient=True,
        )
        span = max(1.0, (until - since).total_seconds())
        self._task = self._bar.add_task("export", total=span, count=0, when="-")
        self._bar.start()

    def update(self, record: Mapping[str, Any]) -> None:
        self._count += 1
        if self._bar is None:
            return
        when = _parse(record.get(self._field))
        done = (when - self._since).total_seconds() if when else None
        fields: dict[str, Any] = {"count": self._count}
        if when is not None:
            fields["when"] = _iso(when)
        self._bar.update(self._task, completed=done, **fields)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _parse(value: Any) -> dt.datetime | None:
    if not value:
        return None
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _iso(value: dt.datetime | None) -> str:
    from ssmctl.timespec import iso_utc

    return iso_utc(value) or "-"
