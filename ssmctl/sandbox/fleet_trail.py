"""The fleet file's trail settings: a bucket receiving trail files, and seeded history.

    cloudtrail:
      bucket: audit-trail            # deliver trail files here (created at start)
      prefix: org                    # key prefix (default none)
      organization_id: o-abc123def4  # file as an organization trail (default: no)
      delivery_interval: 300         # seconds between deliveries (0: only on flush)
      history: history.json          # CloudTrail records to seed (relative to this file)
      history_in_bucket: true        # also file the history in the bucket

A history file is a JSON list of CloudTrail records, or a trail file's
`{"Records": [...]}`; each record needs eventID, eventName, eventTime, eventSource and
awsRegion. Errors name the fleet file's line and the history file's line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ssmctl.errors import ConfigError
from ssmctl.sandbox.fleet import TrailDeliverySpec
from ssmctl.sandbox.yaml_reader import NodeReader

TRAIL_FILE_KEYS = (
    "bucket",
    "prefix",
    "organization_id",
    "delivery_interval",
    "history",
    "history_in_bucket",
)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/-]{1,200}$")
_ORGANIZATION = re.compile(r"^o-[a-z0-9]{10,32}$")
_REQUIRED = ("eventID", "eventName", "eventTime", "eventSource", "awsRegion")


def parse_trail_settings(
    r: NodeReader, fields: Mapping[str, tuple[Any, Any]]
) -> tuple[TrailDeliverySpec | None, tuple[Mapping[str, Any], ...], bool]:
    """(delivery, history records, history_in_bucket) from the `cloudtrail` mapping."""
    delivery = None
    if "bucket" in fields:
        values: dict[str, Any] = {
            "bucket": r.text(
                fields["bucket"][1],
                "cloudtrail.bucket",
                pattern=_BUCKET,
                hint="3-63 lowercase letters, digits, dots and hyphens",
            )
        }
        if "prefix" in fields:
            node = fields["prefix"][1]
            prefix = r.text(node, "cloudtrail.prefix", pattern=_PREFIX, hint="an S3 key prefix")
            values["prefix"] = prefix.strip("/")
        if "organization_id" in fields:
            values["organization_id"] = r.text(
                fields["organization_id"][1],
                "cloudtrail.organization_id",
                pattern=_ORGANIZATION,
                hint="o- and 10-32 lowercase letters or digits",
            )
        if "delivery_interval" in fields:
            values["interval"] = r.number(
                fields["delivery_interval"][1], "cloudtrail.delivery_interval", 0, 86_400
            )
        delivery = TrailDeliverySpec(**values)
    else:
        for key in ("prefix", "organization_id", "delivery_interval", "history_in_bucket"):
            if key in fields:
                raise r.fail(fields[key][1], f"cloudtrail.{key} needs cloudtrail.bucket")
    history: tuple[Mapping[str, Any], ...] = ()
    if "history" in fields:
        node = fields["history"][1]
        name = r.text(node, "cloudtrail.history")
        path = Path(r.source).parent / name
        try:
            history = tuple(load_history(path))
        except ConfigError as exc:
            raise r.fail(node, f"cloudtrail.history: {exc.message}") from None
    in_bucket = (
        r.boolean(fields["history_in_bucket"][1], "cloudtrail.history_in_bucket")
        if "history_in_bucket" in fields
        else True
    )
    return delivery, history, in_bucket


def load_history(path: str | Path) -> list[dict[str, Any]]:
    """CloudTrail records from a JSON file (a list, or `{"Records": [...]}`).

    Errors name the file and the line where the offending record starts.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    return parse_history(text, str(path))


def parse_history(text: str, source: str) -> list[dict[str, Any]]:
    decoder = json.JSONDecoder()

    def line(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    start = _skip(text, 0)
    if start >= len(text):
        raise ConfigError(f"{source}: the history file is empty")
    if text.startswith("{", start):
        match = re.compile(r'\{\s*"Records"\s*:\s*\[').match(text, start)
        if not match:
            raise ConfigError(f'{source}:{line(start)}: expected a list or {{"Records": [...]}}')
        pos = match.end()
    elif text.startswith("[", start):
        pos = start + 1
    else:
        raise ConfigError(f'{source}:{line(start)}: expected a list or {{"Records": [...]}}')
    records: list[dict[str, Any]] = []
    pos = _skip(text, pos)
    while not text.startswith("]", pos):
        if pos >= len(text):
            raise ConfigError(f"{source}:{line(pos)}: unexpected end of the file (no closing ])")
        try:
            record, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{source}:{exc.lineno}: invalid JSON: {exc.msg}") from None
        where = f"{source}:{line(pos)}: record {len(records) + 1}"
        _check(record, where)
        records.append(record)
        pos = _skip(text, end)
        if text.startswith(",", pos):
            pos = _skip(text, pos + 1)
        elif pos < len(text) and not text.startswith("]", pos):
            raise ConfigError(f"{source}:{line(pos)}: expected , or ] after record")
    return records


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _check(record: Any, where: str) -> None:
    from ssmctl.sandbox.trail import parse_event_time

    if not isinstance(record, dict):
        raise ConfigError(f"{where} is not a JSON object")
    missing = [k for k in _REQUIRED if not isinstance(record.get(k), str) or not record[k]]
    if missing:
        raise ConfigError(f"{where} lacks {', '.join(missing)}")
    try:
        parse_event_time(record["eventTime"])
    except ValueError:
        raise ConfigError(f"{where}: eventTime {record['eventTime']!r} is not a time") from None
