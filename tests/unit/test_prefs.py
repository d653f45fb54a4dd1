"""The preferences model, prefs.yaml and planning: pure logic, no AWS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ssmctl.errors import UsageError
from ssmctl.prefs import (
    DEFAULTS,
    INIT_VALUES,
    KEYS,
    document_content,
    lookup,
    parse_assignments,
    parse_value,
    read_inputs,
)
from ssmctl.prefs_document import DocumentState, plan
from ssmctl.prefs_file import parse_prefs_file

# What the console writes (AWS's documented example of the preferences document).
CONSOLE = {
    "schemaVersion": "1.0",
    "description": "Document to hold regional settings for Session Manager",
    "sessionType": "Standard_Stream",
    "inputs": {
        "s3BucketName": "",
        "s3KeyPrefix": "",
        "s3EncryptionEnabled": True,
        "cloudWatchLogGroupName": "",
        "cloudWatchEncryptionEnabled": True,
        "cloudWatchStreamingEnabled": True,
        "idleSessionTimeout": "20",
        "maxSessionDuration": "",
        "kmsKeyId": "",
        "runAsEnabled": False,
        "runAsDefaultUser": "",
        "shellProfile": {"windows": "", "linux": ""},
    },
}


@pytest.mark.parametrize(
    ("key", "text", "value"),
    [
        ("idleSessionTimeout", "1", "1"),
        ("idleSessionTimeout", "060", "60"),
        ("idleSessionTimeout", "", "20"),
        ("maxSessionDuration", "1440", "1440"),
        ("maxSessionDuration", "", ""),
        ("runAsEnabled", "Yes", True),
        ("s3EncryptionEnabled", "off", False),
        (
            "kmsKeyId",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
        ),
        (
            "kmsKeyId",
            "mrk-1234abcd12ab34cd56ef1234567890ab",
            "mrk-1234abcd12ab34cd56ef1234567890ab",
        ),
        (
            "kmsKeyId",
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        ),
        ("kmsKeyId", "alias/session-keys", "alias/session-keys"),
        (
            "kmsKeyId",
            "arn:aws-us-gov:kms:us-gov-west-1:111122223333:alias/ssm",
            "arn:aws-us-gov:kms:us-gov-west-1:111122223333:alias/ssm",
        ),
        ("s3BucketName", "audit.logs-1", "audit.logs-1"),
        ("cloudWatchLogGroupName", "/ssm/sessions#1", "/ssm/sessions#1"),
        ("runAsDefaultUser", "deploy", "deploy"),
        ("shellProfile.linux", "exec bash -l\ncd ~", "exec bash -l\ncd ~"),
    ],
)
def test_values_are_checked_and_stored_as_aws_stores_them(
    key: str, text: str, value: object
) -> None:
    assert parse_value(lookup(key), text) == value


@pytest.mark.parametrize(
    ("key", "text", "message"),
    [
        ("idleSessionTimeout", "0", "from 1 to 60; got '0'"),
        ("idleSessionTimeout", "61", "from 1 to 60; got '61'"),
        ("idleSessionTimeout", "1.5", "whole number of minutes"),
        ("idleSessionTimeout", "-5", "whole number of minutes"),
        ("maxSessionDuration", "1441", "from 1 to 1440; got '1441'"),
        ("runAsEnabled", "maybe", "must be true or false"),
        ("kmsKeyId", "1234", "must be a KMS key id, key ARN, alias/NAME or alias ARN"),
        ("kmsKeyId", "arn:aws:kms:eu-west-1:111122223333:secret/x", "KMS key id"),
        ("kmsKeyId", "alias/", "KMS key id"),
        ("s3BucketName", "Has_Capitals", "S3 bucket name"),
        ("cloudWatchLogGroupName", "a b", "log group name"),
        ("runAsDefaultUser", "two words", "Linux user name"),
        ("s3KeyPrefix", "a\nb", "control characters"),
        ("shellProfile.linux", "ls\x1b[2J", "control characters"),
    ],
)
def test_bad_values_are_refused(key: str, text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace("?", r"\?")):
        parse_value(lookup(key), text)


def test_assignments() -> None:
    assert parse_assignments(["idlesessiontimeout=30", "shellProfile.linux=exec bash"]) == {
        "idleSessionTimeout": "30",
        "shellProfile.linux": "exec bash",
    }
    with pytest.raises(UsageError, match=r"unknown preference 'idle' \(known: s3BucketName,"):
        parse_assignments(["idle=30"])
    with pytest.raises(UsageError, match="expected KEY=VALUE"):
        parse_assignments(["idleSessionTimeout"])
    with pytest.raises(UsageError, match="given twice"):
        parse_assignments(["idleSessionTimeout=3", "IdleSessionTimeout=4"])


def test_reading_the_consoles_document_and_writing_it_back_unchanged() -> None:
    parsed = read_inputs(CONSOLE)
    assert parsed.values["s3EncryptionEnabled"] is True
    assert parsed.values["idleSessionTimeout"] == "20"
    assert "s3BucketName" not in parsed.present and "idleSessionTimeout" in parsed.present
    assert document_content(parsed.values, CONSOLE) == CONSOLE


def test_reading_is_lenient_and_keeps_what_it_does_not_know() -> None:
    base: dict[str, Any] = {
        "schemaVersion": "1.0",
        "description": "ours",
        "sessionType": "Standard_Stream",
        "inputs": {
            "idleSessionTimeout": 30,
            "runAsEnabled": "true",
            "futureInput": {"x": 1},
            "shellProfile": {"linux": "bash", "macos": "zsh"},
        },
    }
    parsed = read_inputs(base)
    assert parsed.values["idleSessionTimeout"] == "30"
    assert parsed.values["runAsEnabled"] is True
    assert parsed.extras == {"futureInput": {"x": 1}}
    written = document_content({**parsed.values, "idleSessionTimeout": "45"}, base)
    assert written["description"] == "ours"
    assert written["inputs"]["futureInput"] == {"x": 1}
    assert written["inputs"]["shellProfile"] == {"linux": "bash", "macos": "zsh", "windows": ""}
    assert written["inputs"]["idleSessionTimeout"] == "45"
    assert list(written["inputs"])[:3] == ["s3BucketName", "s3KeyPrefix", "s3EncryptionEnabled"]
    assert read_inputs(None).values == DEFAULTS


def _state(default: dict[str, Any], latest: dict[str, Any] | None = None) -> DocumentState:
    latest = latest if latest is not None else default
    return DocumentState(
        region="eu-west-1",
        exists=True,
        default_version="1",
        latest_version="1" if latest is default else "2",
        default=read_inputs(default),
        latest=read_inputs(latest),
        base=default,
    )


def test_plans() -> None:
    same = _state(CONSOLE)
    values = read_inputs(CONSOLE).values
    assert plan(same, values).action == "none"
    changed = plan(same, {**values, "idleSessionTimeout": "30"})
    assert changed.action == "update"
    assert [(c.key, c.before, c.after) for c in changed.changes] == [
        ("idleSessionTimeout", "20", "30")
    ]
    ahead = json.loads(json.dumps(CONSOLE))
    ahead["inputs"]["idleSessionTimeout"] = "30"
    lagging = _state(CONSOLE, ahead)
    assert plan(lagging, {**values, "idleSessionTimeout": "30"}).action == "promote"
    back = plan(lagging, values)
    assert back.action == "update" and not back.changes
    assert [(c.key, c.after) for c in back.latest_changes()] == [("idleSessionTimeout", "20")]
    missing = plan(DocumentState(region="eu-west-1", exists=False), INIT_VALUES)
    assert missing.action == "create"
    assert [c.key for c in missing.changes] == ["cloudWatchStreamingEnabled"]


PREFS = """\
preferences:
  idleSessionTimeout: 30
  cloudWatchStreamingEnabled: true
  shellProfile:
    linux: exec bash -l
regions:
  eu-west-1:
    idleSessionTimeout: "15"
    s3BucketName: audit-eu
"""


def test_prefs_file() -> None:
    spec = parse_prefs_file(PREFS, Path("prefs.yaml"))
    us = spec.values_for("us-east-1")
    eu = spec.values_for("eu-west-1")
    assert set(us) == set(KEYS)
    assert us["idleSessionTimeout"] == "30" and us["s3BucketName"] == ""
    assert us["shellProfile.linux"] == "exec bash -l" and us["cloudWatchStreamingEnabled"] is True
    assert eu["idleSessionTimeout"] == "15" and eu["s3BucketName"] == "audit-eu"
    assert spec.where("eu-west-1", "s3BucketName") == "prefs.yaml:9"
    assert spec.where("us-east-1", "idleSessionTimeout") == "prefs.yaml:2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "prefs.yaml: empty"),
        ("preferences: [1\n", "prefs.yaml:2: invalid YAML"),
        ("prefs: {}\n", "prefs.yaml:1: the file: unknown key 'prefs'"),
        ("preferences:\n  idle: 5\n", "prefs.yaml:2: preferences: unknown preference 'idle'"),
        ("preferences:\n  idleSessionTimeout: 0\n", "prefs.yaml:2: idleSessionTimeout must be"),
        ("preferences:\n  maxSessionDuration: 1441\n", "prefs.yaml:2: maxSessionDuration must"),
        ("preferences:\n  maxSessionDuration: 1.5\n", "prefs.yaml:2: maxSessionDuration must"),
        ("preferences:\n  runAsEnabled: 3\n", "prefs.yaml:2: runAsEnabled must be true or false"),
        ("preferences:\n  s3BucketName: 12\n", "prefs.yaml:2: s3BucketName must be text"),
        ("preferences:\n  kmsKeyId: k\n", "prefs.yaml:2: kmsKeyId must be a KMS key"),
        ("preferences:\n\n  shellProfile:\n    bsd: x\n", "prefs.yaml:4: preferences.shellProfile"),
        ("preferences:\n  s3BucketName: [a]\n", "prefs.yaml:2: s3BucketName must be a single"),
        ("preferences:\n  a: 1\n  a: 2\n", "prefs.yaml:3: preferences: a is given twice"),
        ("regions:\n  moon:\n    kmsKeyId: x\n", "prefs.yaml:2: regions: 'moon' is not"),
        ("regions:\n  eu-west-1:\n    idleSessionTimeout: 99\n", "prefs.yaml:3: idle"),
    ],
)
def test_prefs_file_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_prefs_file(text, Path("prefs.yaml"))
    assert caught.value.message.startswith(message), caught.value.message
