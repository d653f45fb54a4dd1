"""Session Manager preferences: the inputs of the `SSM-SessionManagerRunShell` document.

AWS keeps a region's Session Manager preferences in one Session document (schemaVersion
1.0, sessionType Standard_Stream) whose `inputs` say where transcripts go, how long
sessions may idle or last, which KMS key encrypts them and which user they run as. This
module knows those inputs: their types as AWS stores them (booleans as JSON booleans,
minutes as strings), their defaults when absent, how to read them from a document,
validate a user's value, and write a document the console would write.

Preferences travel as flat mappings `{input key: value}` where the two shell profiles
are `shellProfile.linux` and `shellProfile.windows`.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from ssmctl.errors import UsageError

DOCUMENT_NAME = "SSM-SessionManagerRunShell"
DESCRIPTION = "Document to hold regional settings for Session Manager"

Value = str | bool
"""What an input holds: booleans for flags, strings for everything else (minutes too)."""

Values = Mapping[str, Value]


@dataclasses.dataclass(frozen=True)
class Input:
    """One preference: its key, kind (flag, minutes, text, bucket, ...), default, help."""

    key: str
    kind: str
    default: Value
    help: str
    low: int = 0
    high: int = 0


INPUTS: tuple[Input, ...] = (
    Input("s3BucketName", "bucket", "", "S3 bucket for session transcripts"),
    Input("s3KeyPrefix", "text", "", "key prefix of the transcripts in that bucket"),
    Input("s3EncryptionEnabled", "flag", False, "write transcripts only to an encrypted bucket"),
    Input("cloudWatchLogGroupName", "log_group", "", "CloudWatch Logs group for transcripts"),
    Input("cloudWatchEncryptionEnabled", "flag", False, "log only to an encrypted log group"),
    Input(
        "cloudWatchStreamingEnabled",
        "flag",
        False,
        "stream session data as it happens (else one transcript at the end)",
    ),
    Input("idleSessionTimeout", "minutes", "20", "end a session idle this long", 1, 60),
    Input("maxSessionDuration", "minutes", "", "end any session after this long", 1, 1440),
    Input("kmsKeyId", "kms", "", "KMS key that encrypts session data end to end"),
    Input("runAsEnabled", "flag", False, "run Linux sessions as another user than ssm-user"),
    Input("runAsDefaultUser", "user", "", "the user Linux sessions run as"),
    Input("shellProfile.windows", "text", "", "commands run when a Windows session starts"),
    Input("shellProfile.linux", "text", "", "commands run when a Linux session starts"),
)
BY_KEY: Mapping[str, Input] = {i.key: i for i in INPUTS}
KEYS: tuple[str, ...] = tuple(BY_KEY)
DEFAULTS: Mapping[str, Value] = {i.key: i.default for i in INPUTS}

INIT_VALUES: Mapping[str, Value] = {**DEFAULTS, "cloudWatchStreamingEnabled": True}
"""What `prefs init` writes: AWS's defaults, with streaming on (see docs/prefs.md)."""

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_KEY_ID = rf"(?:{_UUID}|mrk-[0-9a-f]{{32}})"
_ALIAS = r"alias/[A-Za-z0-9/_-]{1,250}"
_ARN = r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:"
_KMS = re.compile(rf"^(?:{_KEY_ID}|{_ARN}key/{_KEY_ID}|{_ALIAS}|{_ARN}{_ALIAS})$", re.IGNORECASE)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_LOG_GROUP = re.compile(r"^[A-Za-z0-9_./#-]{1,512}$")
_USER = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_.$-]{0,31}$")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


class PrefsValueError(UsageError):
    """A preference key or value that AWS would not take (or that does not exist)."""


def known_keys() -> str:
    return ", ".join(KEYS)


def lookup(key: str) -> Input:
    """The input named `key` (case-insensitive); PrefsValueError listing the known ones."""
    found = BY_KEY.get(key) or next((i for i in INPUTS if i.key.lower() == key.lower()), None)
    if found is None:
        raise PrefsValueError(f"unknown preference {key!r} (known: {known_keys()})")
    return found


def parse_value(spec: Input, text: str) -> Value:
    """A value typed by a user for `spec`, checked and in the form AWS stores.

    An empty string means "not set": the input's default.
    """
    text = text.strip() if spec.kind != "text" else text
    if text == "":
        return spec.default
    if spec.kind == "flag":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise PrefsValueError(f"{spec.key} must be true or false; got {text!r}")
    if spec.kind == "minutes":
        if not text.isascii() or not text.isdigit() or not spec.low <= int(text) <= spec.high:
            raise PrefsValueError(
                f"{spec.key} must be a whole number of minutes from {spec.low} to "
                f"{spec.high}; got {text!r}"
            )
        return str(int(text))
    problem = _format_problem(spec, text)
    if problem:
        raise PrefsValueError(f"{spec.key} {problem}; got {text!r}")
    return text


def _format_problem(spec: Input, text: str) -> str | None:
    if _CONTROL.search(text) or ("\n" in text and not spec.key.startswith("shellProfile.")):
        return "must not contain control characters"
    if spec.kind == "bucket" and not _BUCKET.match(text):
        return "must be an S3 bucket name (3-63 of a-z 0-9 . -)"
    if spec.kind == "log_group" and not _LOG_GROUP.match(text):
        return "must be a log group name (1-512 of A-Z a-z 0-9 _ . / # -)"
    if spec.kind == "kms" and not _KMS.match(text):
        return "must be a KMS key id, key ARN, alias/NAME or alias ARN"
    if spec.kind == "user" and not _USER.match(text):
        return "must be a Linux user name (up to 32 characters, no spaces)"
    return None


def parse_assignments(items: tuple[str, ...] | list[str]) -> dict[str, Value]:
    """`key=value` arguments -> {key: value}, every one checked (PrefsValueError)."""
    out: dict[str, Value] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise PrefsValueError(f"malformed preference {item!r}: expected KEY=VALUE")
        spec = lookup(key.strip())
        if spec.key in out:
            raise PrefsValueError(f"{spec.key} is given twice")
        out[spec.key] = parse_value(spec, text)
    return out


@dataclasses.dataclass(frozen=True)
class Parsed:
    """The preferences a document holds."""

    values: dict[str, Value]
    """Every known input: the document's value, or the default where it sets none."""
    present: frozenset[str]
    """The inputs the document sets (a non-empty value)."""
    extras: dict[str, Any]
    """Inputs ssmctl does not know, kept as they are."""


def read_inputs(content: Mapping[str, Any] | None) -> Parsed:
    """The preferences in a document's content (lenient: AWS accepted it already)."""
    inputs = content.get("inputs") if content else None
    inputs = inputs if isinstance(inputs, Mapping) else {}
    flat: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for key, value in inputs.items():
        if key == "shellProfile" and isinstance(value, Mapping):
            for os_name, commands in value.items():
                flat[f"shellProfile.{os_name}"] = commands
        elif key in BY_KEY:
            flat[key] = value
        else:
            extras[key] = value
    values: dict[str, Value] = dict(DEFAULTS)
    present = set()
    for key, raw in flat.items():
        spec = BY_KEY.get(key)
        if spec is None:
            continue  # another shell profile: kept through the raw content
        value = _stored(spec, raw)
        if value != "":
            values[key] = value
            present.add(key)
    return Parsed(values=values, present=frozenset(present), extras=extras)


def _stored(spec: Input, raw: Any) -> Value:
    """A document's raw value as ssmctl compares it ("020" is 20 minutes, "True" true)."""
    if raw is None:
        return ""
    if spec.kind == "flag":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        return True if text in _TRUE else False if text in _FALSE else str(raw)
    if isinstance(raw, bool):
        return "true" if raw else "false"
    text = str(raw)
    if spec.kind == "minutes" and text.strip().isdigit():
        return str(int(text.strip()))
    return text


def document_content(values: Values, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A preferences document holding `values`, keeping whatever else `base` holds.

    Every known input is written, in the console's order and types, so the document reads
    the same whichever tool saved it last.
    """
    content: dict[str, Any] = copy.deepcopy(dict(base)) if base else {}
    content["schemaVersion"] = "1.0"
    content.setdefault("description", DESCRIPTION)
    content["sessionType"] = "Standard_Stream"
    old = content.get("inputs")
    old = old if isinstance(old, Mapping) else {}
    old_profiles = old.get("shellProfile")
    profiles: dict[str, Any] = dict(old_profiles) if isinstance(old_profiles, Mapping) else {}
    inputs: dict[str, Any] = {}
    for spec in INPUTS:
        value = values.get(spec.key, spec.default)
        if spec.key.startswith("shellProfile."):
            profiles[spec.key.split(".", 1)[1]] = value
            inputs["shellProfile"] = profiles
        else:
            inputs[spec.key] = value
    inputs.update({k: v for k, v in old.items() if k not in inputs})
    content["inputs"] = inputs
    return content


@dataclasses.dataclass(frozen=True)
class Change:
    """One input that differs: its value before and after."""

    key: str
    before: Value
    after: Value

    def to_record(self) -> dict[str, Value]:
        return {"key": self.key, "before": self.before, "after": self.after}


def changes(before: Values, after: Values) -> tuple[Change, ...]:
    """The inputs whose value differs, in the console's order."""
    return tuple(
        Change(key, before.get(key, DEFAULTS[key]), after.get(key, DEFAULTS[key]))
        for key in KEYS
        if before.get(key, DEFAULTS[key]) != after.get(key, DEFAULTS[key])
    )


def nested(values: Values) -> dict[str, Any]:
    """Flat values -> the document's shape (`shellProfile: {windows, linux}`)."""
    out: dict[str, Any] = {}
    for key in KEYS:
        value = values.get(key, DEFAULTS[key])
        if key.startswith("shellProfile."):
            out.setdefault("shellProfile", {})[key.split(".", 1)[1]] = value
        else:
            out[key] = value
    return out
