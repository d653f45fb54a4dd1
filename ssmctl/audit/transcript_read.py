"""Reading a transcript: all of it, following a live one, or with its timing for replay.

A transcript comes as `Chunk`s of text. CloudWatch streaming events become one chunk
each, their `sessionData` lines joined with newlines and timed by their `eventTime`;
plain transcripts (S3, or CloudWatch without streaming) come in untimed chunks as stored
(ANSI escapes and all: the text is untrusted, and neutralising it is the reader's job,
see `sanitize.transcript_safe`).
"""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import json
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ssmctl.audit.events import parse_time
from ssmctl.audit.transcripts import ClientFor, TranscriptLocation
from ssmctl.errors import TranscriptNotFound

_S3_CHUNK = 64 * 1024


@dataclasses.dataclass(frozen=True)
class Chunk:
    text: str
    time: dt.datetime | None = None
    """When the agent recorded it (streaming events only)."""


def read_chunks(location: TranscriptLocation, client_for: ClientFor) -> Iterator[Chunk]:
    """The whole transcript, in order (TranscriptNotFound if it is not there)."""
    if location.kind == "s3":
        yield from _s3_chunks(client_for("s3", location.region), location)
    else:
        yield from _cloudwatch_chunks(client_for("logs", location.region), location)


def _s3_chunks(s3: Any, location: TranscriptLocation) -> Iterator[Chunk]:
    from ssmctl.aws import error_code

    try:
        body = s3.get_object(Bucket=location.container, Key=location.name)["Body"]
    except Exception as exc:
        if error_code(exc) in ("NoSuchKey", "NoSuchBucket", "404"):
            raise TranscriptNotFound(f"no transcript at {location.url}") from None
        raise
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for block in body.iter_chunks(_S3_CHUNK):
        text = decoder.decode(block)
        if text:
            yield Chunk(text)
    tail = decoder.decode(b"", final=True)
    if tail:
        yield Chunk(tail)


def _cloudwatch_chunks(logs: Any, location: TranscriptLocation) -> Iterator[Chunk]:
    token: str | None = None
    while True:
        events, next_token = _page(logs, location, token)
        for event in events:
            yield _chunk(event)
        # get_log_events has no paginator: the end is a forward token that stays put.
        if next_token is None or next_token == token:
            return
        token = next_token


def _page(
    logs: Any, location: TranscriptLocation, token: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    from ssmctl.aws import error_code

    request: dict[str, Any] = {
        "logGroupName": location.container,
        "logStreamName": location.name,
        "startFromHead": True,
    }
    if token:
        request["nextToken"] = token
    try:
        response = logs.get_log_events(**request)
    except Exception as exc:
        if error_code(exc) == "ResourceNotFoundException":
            raise TranscriptNotFound(f"no transcript at {location.url}") from None
        raise
    return list(response.get("events", [])), response.get("nextForwardToken")


def _chunk(event: dict[str, Any]) -> Chunk:
    message = str(event.get("message", ""))
    if message.startswith("{"):
        try:
            document = json.loads(message)
        except ValueError:
            document = None
        if isinstance(document, dict) and isinstance(document.get("sessionData"), list):
            lines = [str(line) for line in document["sessionData"]]
            when = _event_time(document.get("eventTime"), event.get("timestamp"))
            return Chunk("".join(line + "\n" for line in lines), when)
    return Chunk(message)


def _event_time(text: Any, millis: Any) -> dt.datetime | None:
    if isinstance(text, str):
        try:
            return parse_time(text)
        except ValueError:
            pass
    if isinstance(millis, (int, float)):
        return dt.datetime.fromtimestamp(millis / 1000, dt.timezone.utc)
    return None


def follow_chunks(
    location: TranscriptLocation,
    client_for: ClientFor,
    *,
    active: Callable[[], bool],
    poll: float = 1.0,
    check_every: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Chunk]:
    """A live CloudWatch transcript as it grows (the forward token is polled every
    `poll` s); ends once `active()` (asked every `check_every` s) says the session has
    ended and what was written until then has been read."""
    if location.kind != "cloudwatch":
        raise TranscriptNotFound(
            f"{location.url}: S3 transcripts are written when the session ends; "
            "--follow needs CloudWatch Logs"
        )
    logs = client_for("logs", location.region)
    token: str | None = None
    checked = clock() - check_every  # ask at once: the session may be over already
    ending = False
    while True:
        try:
            events, next_token = _page(logs, location, token)
        except TranscriptNotFound:
            if not active():
                raise
            events, next_token = [], token  # the stream appears with the first output
        for event in events:
            yield _chunk(event)
        if next_token is not None and next_token != token:
            token = next_token
            continue
        if ending:
            return
        if clock() - checked >= check_every:
            checked = clock()
            # One more read after the end: the agent flushes its last events then.
            ending = not active()
            if ending:
                continue
        sleep(poll)


def replay_delays(
    chunks: Iterable[Chunk], *, speed: float = 1.0, max_gap: float = 5.0
) -> Iterator[tuple[float, Chunk]]:
    """(seconds to wait, chunk): the recorded gaps divided by `speed`, idle gaps capped
    at `max_gap` recorded seconds. Untimed chunks wait nothing."""
    previous: dt.datetime | None = None
    for chunk in chunks:
        delay = 0.0
        if chunk.time is not None and previous is not None:
            gap = max(0.0, (chunk.time - previous).total_seconds())
            delay = min(gap, max_gap) / speed
        if chunk.time is not None:
            previous = chunk.time
        yield delay, chunk


def location_from_url(url: str, region: str) -> TranscriptLocation:
    """`s3://bucket/key` or `cloudwatch://group/stream` (as SessionRecord.transcript)."""
    scheme, _, rest = url.partition("://")
    if scheme == "s3":
        bucket, _, key = rest.partition("/")
        return TranscriptLocation("s3", bucket, key, region)
    group, _, stream = rest.rpartition("/")
    return TranscriptLocation("cloudwatch", group, stream, region)


def transcript_text(location: TranscriptLocation, client_for: ClientFor) -> str:
    """The whole transcript as text (streaming events: their lines)."""
    return "".join(chunk.text for chunk in read_chunks(location, client_for))
