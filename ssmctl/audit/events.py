"""CloudTrail records of Session Manager calls, normalised into `AuditEvent`s.

The input is one CloudTrail record (the `CloudTrailEvent` JSON of LookupEvents, or one
element of a trail file's `Records`), shaped as in aws.md section 4. Every field is
optional in practice (errors carry no responseElements, old records lack fields), so
normalisation never fails on a missing key; it fails only on something that is not a
Session Manager record at all.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from ssmctl.timespec import iso_utc

EVENT_SOURCE = "ssm.amazonaws.com"
SESSION_EVENTS = ("StartSession", "ResumeSession", "TerminateSession")
DEFAULT_DOCUMENT = "SSM-SessionManagerRunShell"
_EVENT_RANK = {name: rank for rank, name in enumerate(SESSION_EVENTS)}
_REDACTED = "HIDDEN_DUE_TO_SECURITY_REASONS"
# Session id = <caller-name>-<suffix>: suffix 17 lowercase hex (older) or 26 [a-z0-9].
_SESSION_SUFFIX = re.compile(r"-([0-9a-f]{17}|[a-z0-9]{26})$")


@dataclasses.dataclass(frozen=True)
class AuditEvent:
    """One Session Manager call as CloudTrail recorded it."""

    time: dt.datetime
    event: str
    region: str
    account: str
    session_id: str | None
    target: str | None
    user_arn: str
    user_type: str
    user_name: str
    mfa: bool | None = None
    source_ip: str | None = None
    user_agent: str | None = None
    document: str | None = None
    parameters: Mapping[str, list[str]] = dataclasses.field(default_factory=dict)
    reason: str | None = None
    event_id: str | None = None
    request_id: str | None = None
    access_key_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    raw: Mapping[str, Any] | None = dataclasses.field(default=None, compare=False, repr=False)
    """The CloudTrail record with stream URLs and tokens hidden (`redact`), when kept."""

    @property
    def failed(self) -> bool:
        return self.error_code is not None

    @property
    def sort_key(self) -> tuple[dt.datetime, int, str]:
        """Chronological order. CloudTrail times are whole seconds: within one, a session's
        Start comes before its Resume and Terminate; the event id breaks other ties (and
        puts duplicates next to each other)."""
        return (self.time, _EVENT_RANK.get(self.event, 3), self.event_id or "")

    def packed(self) -> tuple[Any, ...]:
        """The fields as a tuple (cheap to pickle); `AuditEvent.unpacked` reverses it."""
        return tuple(self.__dict__.values())

    @classmethod
    def unpacked(cls, values: tuple[Any, ...]) -> AuditEvent:
        # What packed() wrote, already checked: skip the frozen __init__ (the hot path of
        # sorting big exports through temporary files).
        event = object.__new__(cls)
        event.__dict__.update(zip(_FIELD_NAMES, values, strict=True))
        return event

    def to_record(self) -> dict[str, Any]:
        """Stable field names for every output format (docs/audit.md)."""
        return {
            "time": iso_utc(self.time),
            "event": self.event,
            "user_arn": self.user_arn,
            "user_type": self.user_type,
            "user_name": self.user_name,
            "mfa": self.mfa,
            "source_ip": self.source_ip,
            "user_agent": self.user_agent,
            "target": self.target,
            "document": self.document,
            "parameters": {k: list(v) for k, v in self.parameters.items()},
            "reason": self.reason,
            "session_id": self.session_id,
            "region": self.region,
            "account": self.account,
            "event_id": self.event_id,
            "request_id": self.request_id,
            "access_key_id": self.access_key_id,
            "error_code": self.error_code,
            "error_message": self.error_message,
        }


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(AuditEvent))


def is_session_event(record: Mapping[str, Any]) -> bool:
    return record.get("eventSource") == EVENT_SOURCE and record.get("eventName") in SESSION_EVENTS


def normalise(record: Mapping[str, Any], *, keep_raw: bool = False) -> AuditEvent:
    """One CloudTrail record -> AuditEvent. Raises ValueError for a non-session record.

    `keep_raw` keeps the record itself, redacted, in `AuditEvent.raw`.
    """
    if not is_session_event(record):
        raise ValueError(
            f"not a Session Manager session event: {record.get('eventSource')}:"
            f"{record.get('eventName')}"
        )
    identity = record.get("userIdentity") or {}
    request = record.get("requestParameters") or {}
    response = record.get("responseElements") or {}
    session_id = response.get("sessionId") or request.get("sessionId")
    # Every field, in order: built without the frozen __init__ (11 us of the ~30 a record
    # costs, which counts when an export reads 100,000 of them).
    return _assemble(
        parse_time(str(record.get("eventTime", ""))),
        str(record["eventName"]),
        str(record.get("awsRegion", "")),
        str(record.get("recipientAccountId") or identity.get("accountId") or ""),
        str(session_id) if session_id else None,
        _text(request.get("target")),
        str(identity.get("arn") or ""),
        str(identity.get("type") or ""),
        user_name(identity),
        _mfa(identity),
        _text(record.get("sourceIPAddress")),
        _text(record.get("userAgent")),
        _text(request.get("documentName")),
        _parameters(request.get("parameters")),
        _text(request.get("reason")),
        _text(record.get("eventID")),
        _text(record.get("requestID")),
        _text(identity.get("accessKeyId")),
        _text(record.get("errorCode")),
        _text(record.get("errorMessage")),
        redact(record) if keep_raw else None,
    )


def _assemble(*values: Any) -> AuditEvent:
    """An AuditEvent from all its field values in order (see `AuditEvent.unpacked`)."""
    return AuditEvent.unpacked(values)


def user_name(identity: Mapping[str, Any]) -> str:
    """The person behind an identity: IAM user name, role session name (SSO: the user or
    e-mail), federated user, or `root`."""
    kind = identity.get("type")
    if kind == "IAMUser" and identity.get("userName"):
        return str(identity["userName"])
    if kind == "Root":
        return "root"
    arn = str(identity.get("arn") or "")
    if kind in ("AssumedRole", "FederatedUser") and "/" in arn:
        return arn.rsplit("/", 1)[-1]
    principal = str(identity.get("principalId") or "")
    if ":" in principal:
        return principal.split(":", 1)[1]
    return str(identity.get("userName") or arn.rsplit("/", 1)[-1] or principal)


def session_owner_name(session_id: str) -> str:
    """The caller-name part of a session id (split at the last `-`)."""
    match = _SESSION_SUFFIX.search(session_id)
    if match:
        return session_id[: match.start()]
    return session_id.rsplit("-", 1)[0]


def parse_time(text: str) -> dt.datetime:
    """CloudTrail's `2025-06-11T07:56:17Z` (also with fractions or an offset) -> aware UTC."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"bad CloudTrail eventTime {text!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.astimezone(dt.timezone.utc)


def redact(record: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a CloudTrail record with stream URLs and any token value hidden.

    AWS hides only tokenValue; the streamUrl is logged in full, and with a token it would
    let someone join the session, so exports hide both.
    """
    out = dict(record)
    response = out.get("responseElements")
    if isinstance(response, Mapping):
        response = dict(response)
        if "streamUrl" in response:
            response["streamUrl"] = _redact_url(str(response["streamUrl"]))
        if "tokenValue" in response:
            response["tokenValue"] = _REDACTED
        out["responseElements"] = response
    return out


def _redact_url(url: str) -> str:
    base = url.split("?", 1)[0]
    return base + ("?REDACTED" if "?" in url else "")


def _mfa(identity: Mapping[str, Any]) -> bool | None:
    context = identity.get("sessionContext") or {}
    attributes = context.get("attributes") or {}
    value = attributes.get("mfaAuthenticated")
    if value is None:
        return None
    return str(value).lower() == "true"


def _parameters(value: Any) -> dict[str, list[str]]:
    if not value or not isinstance(value, Mapping):
        return {}
    out: dict[str, list[str]] = {}
    for key, items in value.items():
        if isinstance(items, list):
            out[str(key)] = [str(i) for i in items]
        elif items is not None:
            out[str(key)] = [str(items)]
    return out


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)
