"""`ssmctl audit`: who connected to what, when, from where, for how long, what they typed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from ssmctl.cli.audit_columns import EVENT_COLUMNS, SESSION_COLUMNS, TRANSCRIPT_COLUMNS
from ssmctl.cli.audit_export import export
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
    from ssmctl.audit.transcript_read import Chunk


@click.group(epilog=exit_codes_epilog())
def audit() -> None:
    """Audit Session Manager: events, sessions, transcripts, exports.

    Events come from CloudTrail (LookupEvents, paced at its 2 calls per second per
    region, or trail files in S3 with --trail); sessions join them with DescribeSessions
    and their transcripts in CloudWatch Logs or S3. See docs/audit.md.
    """


audit.add_command(export)


@audit.command("events", epilog=exit_codes_epilog())
@filter_options()
@click.option("--include-raw", is_flag=True, help="Add the CloudTrail record (json, jsonl, yaml).")
@common_options(fan_out=True)
def events(app: App, include_raw: bool, **filters: Any) -> int:
    """Session Manager events from CloudTrail, oldest first.

    StartSession, ResumeSession and TerminateSession calls (refused ones too, with
    error_code), normalised: time, event, user (ARN, type, name), source IP, user agent,
    target, document, parameters, reason, session id, region, account. With --target,
    the Resume and Terminate events of the sessions started on it come too.
    """
    plan_ = plan(app, Filters(**filters))
    for note in plan_.notes:
        app.notice(f"ssmctl: note: {note}")

    def records() -> Iterator[dict[str, Any]]:
        for event in event_stream(plan_, keep_raw=include_raw):
            record = event.to_record()
            if include_raw:
                record["cloudtrail"] = event.raw
            yield record

    count = app.render(records(), EVENT_COLUMNS)
    if count == 0 and app.settings.output == "table":
        app.notice("No Session Manager events in that range.")
    return 0


@audit.command("sessions", epilog=exit_codes_epilog())
@filter_options(events=False)
@transcript_options
@click.option("--no-transcripts", is_flag=True, help="Do not look for transcripts (fewer calls).")
@common_options(fan_out=True)
def sessions(
    app: App,
    log_group: str | None,
    bucket: str | None,
    no_transcripts: bool,
    **filters: Any,
) -> int:
    """One record per session, in order of start.

    Joins each session's Start, Resume and Terminate events with its DescribeSessions
    entry: who (ARN, type, name, MFA), from where, target and its Name, document and
    parameters (forwarded ports), reason, start, end, duration, status, how it ended
    (exit, client, terminated and by whom, idle timeout, maximum duration, failed,
    unknown), resumes, and the transcript's location and size (logged: false, with
    log_note, when there is none: port forwarding and SSH are never logged).
    """
    plan_ = plan(app, Filters(**filters))
    for note in plan_.notes:
        app.notice(f"ssmctl: note: {note}")
    stream = session_stream(
        plan_, transcripts=not no_transcripts, log_group=log_group, bucket=bucket
    )
    count = app.render((r.to_record() for r in stream), SESSION_COLUMNS)
    if count == 0 and app.settings.output == "table":
        app.notice("No sessions in that range.")
    return 0


@audit.command("log", epilog=exit_codes_epilog())
@click.argument("session_id")
@transcript_options
@click.option("--follow", "-f", is_flag=True, help="Keep printing a live session's output.")
@click.option("--replay", is_flag=True, help="Play it back with its recorded timing.")
@click.option(
    "--speed",
    type=click.FloatRange(min=0.01, max=1000),
    default=1.0,
    show_default=True,
    help="Replay speed multiplier.",
)
@click.option(
    "--raw", is_flag=True, help="Print terminal escape sequences as recorded (untrusted!)."
)
@common_options()
def log(
    app: App,
    session_id: str,
    log_group: str | None,
    bucket: str | None,
    follow: bool,
    replay: bool,
    speed: float,
    raw: bool,
) -> int:
    """Print a session's transcript (CloudWatch Logs or S3).

    The transcript is what the session's user saw and typed: it is untrusted, so escape
    sequences are removed and control characters shown as escapes unless --raw.
    --follow tails a live session (CloudWatch Logs) until it ends. --replay waits the
    recorded time between streaming events (idle gaps over 5 s are shortened to 5 s);
    transcripts uploaded at the end have no timing and print at once. Text by default;
    -o json/jsonl/yaml/csv give {time, text} records. Ctrl-C stops.
    """
    from ssmctl.audit.trail_files import S3Location
    from ssmctl.audit.transcript_read import follow_chunks, read_chunks, replay_delays
    from ssmctl.audit.transcripts import find_transcript

    if follow and replay:
        raise UsageError("--follow and --replay cannot be combined")
    aws = app.aws()
    region = aws.region
    found, _ = find_transcript(
        session_id,
        region,
        aws.client,
        log_group=log_group,
        bucket=S3Location.parse(bucket) if bucket else None,
    )
    app.notice(f"# {found.location.url}")
    if follow and found.location.kind == "cloudwatch":
        # (An S3 transcript is only there once the session has ended: it is all there.)
        from ssmctl.audit.history import describe_session
        from ssmctl.sessions import ACTIVE_STATUSES

        def active() -> bool:
            now = describe_session(aws.client("ssm", region), region, session_id)
            return now is not None and now.status in ACTIVE_STATUSES

        chunks: Iterator[Chunk] = follow_chunks(found.location, aws.client, active=active)
    else:
        chunks = read_chunks(found.location, aws.client)
    fmt = app.flags.output
    if fmt in ("json", "jsonl", "yaml", "csv"):
        app.render(({"time": _iso(c.time), "text": c.text} for c in chunks), TRANSCRIPT_COLUMNS)
        return 0
    if replay:
        _replay(app, replay_delays(chunks, speed=speed), raw)
    else:
        _print(app, chunks, raw)
    return 0


def _print(app: App, chunks: Iterator[Chunk], raw: bool) -> None:
    from ssmctl.sanitize import transcript_safe

    for chunk in chunks:
        app.stdout.write(chunk.text if raw else transcript_safe(chunk.text))
        app.stdout.flush()


def _replay(app: App, timed: Iterator[tuple[float, Chunk]], raw: bool) -> None:
    from ssmctl.sanitize import transcript_safe

    warned = False
    for delay, chunk in timed:
        if chunk.time is None and not warned:
            app.notice(
                "ssmctl: this transcript has no timing (it was uploaded when the session "
                "ended): printing it at once"
            )
            warned = True
        if delay > 0:
            time.sleep(delay)
        app.stdout.write(chunk.text if raw else transcript_safe(chunk.text))
        app.stdout.flush()


def _iso(value: Any) -> str | None:
    from ssmctl.timespec import iso_utc

    return iso_utc(value)
