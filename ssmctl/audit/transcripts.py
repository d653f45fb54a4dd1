"""Where a session's transcript is, and whether it is there (protocol.md section 9).

The agent writes a logged session's transcript to CloudWatch Logs (log stream = the
session id: streaming JSON events, or the plain transcript at the end) and/or to S3
(`<s3KeyPrefix>/<session id>.log`, at the end), as the `SSM-SessionManagerRunShell`
preferences say. A transcript is looked for, in this order, where the options point
(`--log-group`, `--bucket`), where DescribeSessions' OutputUrl points, and where the
region's preferences point; CloudWatch first (its streaming events carry timing).
Port-forwarding and SSH sessions are never logged.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from ssmctl.audit.events import DEFAULT_DOCUMENT
from ssmctl.audit.records import SessionRecord, never_logged
from ssmctl.audit.trail_files import S3Location
from ssmctl.models import SessionInfo
from ssmctl.sessions import ACTIVE_STATUSES

ClientFor = Callable[[str, str], Any]
"""`client_for(service, region)`."""

_S3_VIRTUAL = re.compile(r"^([a-z0-9][a-z0-9.\-]*[a-z0-9])\.s3[.-]")
_CW_FRAGMENT = re.compile(r"group=([^;&]+);stream=([^;&]+)")


@dataclasses.dataclass(frozen=True)
class TranscriptLocation:
    """A transcript in S3 (`container` = bucket, `name` = key) or CloudWatch Logs
    (`container` = log group, `name` = log stream)."""

    kind: str
    container: str
    name: str
    region: str

    @property
    def url(self) -> str:
        scheme = "s3" if self.kind == "s3" else "cloudwatch"
        return f"{scheme}://{self.container}/{self.name}"


@dataclasses.dataclass(frozen=True)
class LogSettings:
    """The logging part of a region's session preferences."""

    s3_bucket: str | None = None
    s3_prefix: str = ""
    log_group: str | None = None
    streaming: bool = False
    idle_minutes: float | None = None
    max_minutes: float | None = None

    @property
    def configured(self) -> bool:
        return bool(self.s3_bucket or self.log_group)


@dataclasses.dataclass(frozen=True)
class Found:
    location: TranscriptLocation
    size: int | None
    """Bytes (None when the service does not say: CloudWatch Logs reports 0 for streams)."""
    last_event: dt.datetime | None = None


def read_preferences(ssm: Any) -> LogSettings:
    """The region's `SSM-SessionManagerRunShell` (default version); empty if it is absent."""
    from ssmctl.aws import error_code

    try:
        response = ssm.get_document(Name=DEFAULT_DOCUMENT)
    except Exception as exc:
        if error_code(exc) == "InvalidDocument":
            return LogSettings()
        raise
    return parse_preferences(str(response.get("Content") or ""))


def parse_preferences(content: str) -> LogSettings:
    try:
        document = json.loads(content)
    except ValueError:
        import yaml

        try:
            document = yaml.safe_load(content)
        except yaml.YAMLError:
            return LogSettings()
    inputs = document.get("inputs") if isinstance(document, Mapping) else None
    if not isinstance(inputs, Mapping):
        return LogSettings()

    def text(key: str) -> str | None:
        value = inputs.get(key)
        return value.strip() if isinstance(value, str) and value.strip() else None

    def number(key: str) -> float | None:
        try:
            return float(str(inputs.get(key))) if inputs.get(key) not in (None, "") else None
        except ValueError:
            return None

    streaming = inputs.get("cloudWatchStreamingEnabled")
    return LogSettings(
        s3_bucket=text("s3BucketName"),
        s3_prefix=(text("s3KeyPrefix") or "").strip("/"),
        log_group=text("cloudWatchLogGroupName"),
        streaming=streaming is True or str(streaming).lower() == "true",
        idle_minutes=number("idleSessionTimeout"),
        max_minutes=number("maxSessionDuration"),
    )


def s3_location(url: str, region: str) -> TranscriptLocation | None:
    """DescribeSessions' S3OutputUrl (virtual-hosted or path style) as a location."""
    parts = urlsplit(url)
    host, path = parts.hostname or "", unquote(parts.path).lstrip("/")
    match = _S3_VIRTUAL.match(host)
    if match:
        bucket, key = match.group(1), path
    elif host.startswith("s3") and "/" in path:
        bucket, key = path.split("/", 1)
    else:
        return None
    return TranscriptLocation("s3", bucket, key, region) if key else None


def cloudwatch_location(url: str, region: str) -> TranscriptLocation | None:
    """DescribeSessions' CloudWatchOutputUrl (`...#logEventViewer:group=G;stream=S`)."""
    match = _CW_FRAGMENT.search(unquote(url))
    if not match:
        return None
    return TranscriptLocation("cloudwatch", match.group(1), match.group(2), region)


def candidates(
    session_id: str,
    region: str,
    *,
    log_group: str | None = None,
    bucket: S3Location | None = None,
    output_s3: str | None = None,
    output_cloudwatch: str | None = None,
    settings: LogSettings | None = None,
) -> list[TranscriptLocation]:
    """Where to look, in order: the options' places, then DescribeSessions' and the
    preferences' (CloudWatch before S3); no duplicates."""
    out: list[TranscriptLocation] = []

    def add(location: TranscriptLocation | None) -> None:
        if location is not None and location not in out:
            out.append(location)

    if log_group:
        add(TranscriptLocation("cloudwatch", log_group, session_id, region))
    if bucket is not None:
        add(TranscriptLocation("s3", bucket.bucket, _key(bucket.prefix, session_id), region))
    explicit, out = out, []
    if output_cloudwatch:
        add(cloudwatch_location(output_cloudwatch, region))
    if output_s3:
        add(s3_location(output_s3, region))
    if settings is not None and settings.log_group:
        add(TranscriptLocation("cloudwatch", settings.log_group, session_id, region))
    if settings is not None and settings.s3_bucket:
        key = _key(settings.s3_prefix, session_id)
        add(TranscriptLocation("s3", settings.s3_bucket, key, region))
    found = [c for c in out if c.kind == "cloudwatch"] + [c for c in out if c.kind == "s3"]
    return explicit + [c for c in found if c not in explicit]


def _key(prefix: str, session_id: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/{session_id}.log" if prefix else f"{session_id}.log"


def probe(location: TranscriptLocation, client_for: ClientFor) -> Found | None:
    """Whether the transcript is there (None if not), with its size when known."""
    from ssmctl.aws import error_code

    try:
        if location.kind == "s3":
            head = client_for("s3", location.region).head_object(
                Bucket=location.container, Key=location.name
            )
            return Found(location, int(head.get("ContentLength", 0)))
        logs = client_for("logs", location.region)
        streams = logs.describe_log_streams(
            logGroupName=location.container, logStreamNamePrefix=location.name
        ).get("logStreams", [])
    except Exception as exc:
        if error_code(exc) in ("404", "NoSuchKey", "NoSuchBucket", "ResourceNotFoundException"):
            return None
        raise
    stream = next((s for s in streams if s.get("logStreamName") == location.name), None)
    if stream is None:
        return None
    last = stream.get("lastEventTimestamp")
    stored = int(stream.get("storedBytes") or 0)
    return Found(
        location,
        stored or None,
        dt.datetime.fromtimestamp(last / 1000, dt.timezone.utc) if last else None,
    )


class TranscriptFinder:
    """Fills in where each session's transcript is (`locate`), the region's preferences
    read once."""

    def __init__(
        self,
        client_for: ClientFor,
        *,
        log_group: str | None = None,
        bucket: S3Location | None = None,
        output_urls: Mapping[tuple[str, str], tuple[str | None, str | None]] | None = None,
    ) -> None:
        self._client_for = client_for
        self._log_group = log_group
        self._bucket = bucket
        self._output_urls = output_urls or {}
        self._settings: dict[str, LogSettings] = {}
        self._lock = threading.Lock()

    def settings(self, region: str) -> LogSettings:
        with self._lock:
            known = self._settings.get(region)
        if known is None:
            known = read_preferences(self._client_for("ssm", region))
            with self._lock:
                self._settings[region] = known
        return known

    def locations(self, session_id: str, region: str) -> list[TranscriptLocation]:
        output_s3, output_cw = self._output_urls.get((region, session_id), (None, None))
        explicit = self._log_group is not None or self._bucket is not None
        return candidates(
            session_id,
            region,
            log_group=self._log_group,
            bucket=self._bucket,
            output_s3=output_s3,
            output_cloudwatch=output_cw,
            settings=None if explicit else self.settings(region),
        )

    def locate(self, record: SessionRecord) -> SessionRecord:
        """`record` with transcript, transcript_bytes, logged and log_note filled in."""
        if never_logged(record.document):
            kind = "SSH" if record.document == "AWS-StartSSHSession" else "port forwarding"
            note = f"{kind} sessions are never logged (only CloudTrail sees them)"
            return dataclasses.replace(record, logged=False, log_note=note)
        if record.status == "Failed":
            note = "the session failed: nothing was logged"
            return dataclasses.replace(record, logged=False, log_note=note)
        places = self.locations(record.session_id, record.region)
        if not places:
            note = (
                f"session logging is not configured in {record.region} "
                f"({DEFAULT_DOCUMENT} names no S3 bucket or log group)"
            )
            return dataclasses.replace(record, logged=False, log_note=note)
        for place in places:
            found = probe(place, self._client_for)
            if found is not None:
                return self._infer_idle(
                    dataclasses.replace(
                        record,
                        transcript=place.url,
                        transcript_bytes=found.size,
                        logged=True,
                        log_note=None,
                    ),
                    found,
                )
        where = ", ".join(p.url for p in places)
        if record.end is None and record.status is not None:
            note = f"the transcript is written when the session ends ({where})"
            return dataclasses.replace(record, logged=None, log_note=note)
        return dataclasses.replace(record, logged=False, log_note=f"no transcript at {where}")

    def _infer_idle(self, record: SessionRecord, found: Found) -> SessionRecord:
        """A streaming transcript whose last output is an idle timeout before the end."""
        if record.ended_by != "unknown" or found.location.kind != "cloudwatch":
            return record
        settings = self.settings(record.region)
        idle = settings.idle_minutes or 20.0
        last, end = found.last_event, record.end
        if not settings.streaming or last is None or end is None:
            return record
        quiet = end - last
        if quiet >= dt.timedelta(minutes=idle - 1):
            note = (
                f"inferred: no output for {int(quiet.total_seconds() // 60)} minutes before "
                f"the end (idleSessionTimeout {idle:g})"
            )
            return dataclasses.replace(record, ended_by="idle timeout", end_details=note)
        return record


def output_urls_of(infos: Sequence[Any]) -> dict[tuple[str, str], tuple[str | None, str | None]]:
    """(region, session id) -> (S3OutputUrl, CloudWatchOutputUrl) of SessionInfo entries."""
    return {(i.region, i.session_id): (i.output_s3, i.output_cloudwatch) for i in infos}


def find_transcript(
    session_id: str,
    region: str,
    client_for: ClientFor,
    *,
    log_group: str | None = None,
    bucket: S3Location | None = None,
) -> tuple[Found, SessionInfo | None]:
    """Where one session's transcript is (the first place it is found), and the session's
    DescribeSessions entry; TranscriptNotFound says where it looked, or why it cannot be."""
    from ssmctl.audit.history import describe_session
    from ssmctl.errors import TranscriptNotFound

    info = describe_session(client_for("ssm", region), region, session_id)
    if info is not None and never_logged(info.document):
        raise TranscriptNotFound(
            f"{session_id} is a {info.document} session: Session Manager never logs those "
            "(only CloudTrail sees them; see ssmctl audit events)"
        )
    urls = {(region, session_id): (info.output_s3, info.output_cloudwatch)} if info else {}
    finder = TranscriptFinder(client_for, log_group=log_group, bucket=bucket, output_urls=urls)
    places = finder.locations(session_id, region)
    if not places:
        raise TranscriptNotFound(
            f"nowhere to look for {session_id}'s transcript: {DEFAULT_DOCUMENT} in {region} "
            "names no S3 bucket or log group (use --log-group or --bucket)"
        )
    for place in places:
        found = probe(place, client_for)
        if found is not None:
            return found, info
    where = ", ".join(p.url for p in places)
    if (
        info is not None
        and info.status in ACTIVE_STATUSES
        and not any(p.kind == "cloudwatch" for p in places)
    ):
        raise TranscriptNotFound(
            f"{session_id} is still running: its transcript is uploaded to {where} when it ends"
        )
    if info is not None and info.status in ACTIVE_STATUSES:
        # A streaming log appears with the session's first output: --follow waits for it.
        return Found(next(p for p in places if p.kind == "cloudwatch"), None), info
    raise TranscriptNotFound(f"no transcript of {session_id} at {where}")
