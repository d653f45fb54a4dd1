"""The fleet's Session Manager preferences: the `session_preferences` section of a fleet file.

Its keys are the `inputs` of the `SSM-SessionManagerRunShell` document, with AWS's names
(aws.md section 5). The sandbox creates that document in every region of the fleet, the
log group it names in every region, and the bucket it names (once: bucket names are
global), so that session transcripts have somewhere to go from the start.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ssmctl.sandbox.sessions import DEFAULT_DOCUMENT
from ssmctl.sandbox.yaml_reader import NodeReader

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_LOG_GROUP = re.compile(r"^[.\-_/#A-Za-z0-9]{1,512}$")
_TEXTS = ("s3KeyPrefix", "kmsKeyId", "runAsDefaultUser")
_BOOLEANS = (
    "s3EncryptionEnabled",
    "cloudWatchEncryptionEnabled",
    "cloudWatchStreamingEnabled",
    "runAsEnabled",
)
_MINUTES = {"idleSessionTimeout": 60, "maxSessionDuration": 1440}
PREFERENCE_KEYS = (
    "s3BucketName",
    "cloudWatchLogGroupName",
    *_TEXTS,
    *_BOOLEANS,
    *_MINUTES,
    "shellProfile",
)
_PROFILE_KEYS = ("linux", "windows")
DOCUMENTED_KEYS = tuple(f"session_preferences.{k}" for k in PREFERENCE_KEYS)


def parse_session_preferences(r: NodeReader, node: Any) -> dict[str, Any]:
    """The document `inputs` a fleet file's `session_preferences` describe."""
    where = "session_preferences"
    fields = r.mapping(node, where, PREFERENCE_KEYS)
    inputs: dict[str, Any] = {}
    for key, (_, value) in fields.items():
        at = f"{where}.{key}"
        if key == "s3BucketName":
            inputs[key] = r.text(value, at, pattern=_BUCKET, hint="an S3 bucket name")
        elif key == "cloudWatchLogGroupName":
            inputs[key] = r.text(value, at, pattern=_LOG_GROUP, hint="a log group name")
        elif key in _TEXTS:
            inputs[key] = r.text(value, at)
        elif key in _BOOLEANS:
            inputs[key] = r.boolean(value, at)
        elif key in _MINUTES:
            inputs[key] = _minutes(r, value, at, _MINUTES[key])
        else:
            profile = r.mapping(value, at, _PROFILE_KEYS)
            inputs[key] = {
                name: r.text(profile[name][1], f"{at}.{name}") if name in profile else ""
                for name in _PROFILE_KEYS
            }
    return inputs


def _minutes(r: NodeReader, node: Any, where: str, high: int) -> str:
    # AWS stores these as strings of whole minutes; accept 20 or "20".
    value = r.scalar(node)
    text = str(value).strip() if isinstance(value, (int, str)) else ""
    if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= high:
        raise r.fail(node, f"{where} must be a whole number of minutes between 1 and {high}")
    return str(int(text))


def preferences_document(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The content of the `SSM-SessionManagerRunShell` document holding `inputs`."""
    return {
        "schemaVersion": "1.0",
        "description": "Document to hold regional settings for Session Manager",
        "sessionType": "Standard_Stream",
        "inputs": dict(inputs),
    }


def seed_session_preferences(
    account_id: str, regions: tuple[str, ...], default_region: str, inputs: Mapping[str, Any]
) -> None:
    """Create the preferences document, its log group and its bucket."""
    from ssmctl.sandbox import moto_logging

    group, bucket = inputs.get("cloudWatchLogGroupName"), inputs.get("s3BucketName")
    for region in regions:
        moto_logging.create_session_document(
            account_id, region, DEFAULT_DOCUMENT, preferences_document(inputs)
        )
        if group:
            moto_logging.create_log_group(account_id, region, str(group))
    if bucket:
        moto_logging.create_bucket(account_id, default_region, str(bucket))
