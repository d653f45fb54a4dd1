"""The preferences document in one region: read its state, plan a change, apply it.

Every change writes a new version and makes it the default: the console and sessions
started without a document name use the DEFAULT version, sessions that name
`SSM-SessionManagerRunShell` use the LATEST, and both must say the same thing. A change
that would write what the document already says is not made.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from ssmctl.aws import error_code, translate
from ssmctl.errors import AwsError
from ssmctl.prefs import (
    DOCUMENT_NAME,
    Change,
    Parsed,
    Value,
    Values,
    changes,
    document_content,
    read_inputs,
)

# AWS refuses a version whose text equals an earlier version's (DuplicateDocumentContent).
# Returning to earlier preferences is legitimate, so the same JSON is then written with a
# different amount of trailing whitespace: at most this many layouts are tried.
_LAYOUTS = 8


@dataclasses.dataclass(frozen=True)
class DocumentState:
    """What the region's preferences document holds now."""

    region: str
    exists: bool
    default_version: str | None = None
    latest_version: str | None = None
    default: Parsed = dataclasses.field(default_factory=lambda: read_inputs(None))
    """The default version's preferences (AWS's defaults when there is no document)."""
    latest: Parsed = dataclasses.field(default_factory=lambda: read_inputs(None))
    base: Mapping[str, Any] | None = None
    """The default version's content: new versions keep what ssmctl does not manage."""

    @property
    def lagging(self) -> bool:
        """The latest version is not the default (explicit-name sessions differ)."""
        return self.exists and self.default_version != self.latest_version

    def lag_changes(self) -> tuple[Change, ...]:
        """How the latest version differs from the default one."""
        return changes(self.default.values, self.latest.values) if self.lagging else ()


def read_state(ssm: Any, region: str) -> DocumentState:
    """DescribeDocument, then GetDocument of the default (and latest) version."""
    import botocore.exceptions

    try:
        described = ssm.describe_document(Name=DOCUMENT_NAME)["Document"]
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "InvalidDocument":
            return DocumentState(region=region, exists=False)
        raise
    default_version = str(described.get("DefaultVersion") or described.get("DocumentVersion"))
    latest_version = str(described.get("LatestVersion") or default_version)
    base = _content(ssm, default_version)
    latest = base if latest_version == default_version else _content(ssm, latest_version)
    return DocumentState(
        region=region,
        exists=True,
        default_version=default_version,
        latest_version=latest_version,
        default=read_inputs(base),
        latest=read_inputs(latest),
        base=base,
    )


def _content(ssm: Any, version: str) -> dict[str, Any]:
    response = ssm.get_document(Name=DOCUMENT_NAME, DocumentVersion=version, DocumentFormat="JSON")
    try:
        content = json.loads(response.get("Content") or "{}")
    except ValueError:
        content = None
    if not isinstance(content, dict):
        raise AwsError(f"version {version} of {DOCUMENT_NAME} is not a JSON object")
    return content


@dataclasses.dataclass(frozen=True)
class Plan:
    """What one region needs to hold `values`."""

    state: DocumentState
    values: dict[str, Value]
    action: str
    """`none`, `create`, `update` (a new version, made the default) or `promote` (make the
    latest version, which already holds `values`, the default)."""
    changes: tuple[Change, ...]
    """Inputs that differ from the default version (or, without a document, from AWS's
    defaults)."""

    @property
    def region(self) -> str:
        return self.state.region

    def latest_changes(self) -> tuple[Change, ...]:
        """How the new version differs from a latest version that is not the default."""
        return changes(self.state.latest.values, self.values) if self.state.lagging else ()

    def content(self) -> dict[str, Any]:
        return document_content(self.values, self.state.base)

    def to_record(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "document": DOCUMENT_NAME,
            "exists": self.state.exists,
            "default_version": self.state.default_version,
            "latest_version": self.state.latest_version,
            "action": self.action,
            "changes": [c.to_record() for c in self.changes],
            "latest_changes": [c.to_record() for c in self.latest_changes()],
        }


def plan(state: DocumentState, values: Values) -> Plan:
    """Compare `values` with the document; decide what (if anything) to write."""
    wanted = dict(values)
    diff = changes(state.default.values, wanted)
    if not state.exists:
        return Plan(state, wanted, "create", diff)
    latest_holds = state.latest.values == wanted and state.latest.extras == state.default.extras
    if latest_holds and not state.lagging:
        action = "none"
    elif latest_holds:
        action = "promote"
    else:
        action = "update"
    return Plan(state, wanted, action, diff)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What happened in one region."""

    region: str
    result: str
    """created, updated, promoted, unchanged, exists (init left it) or failed."""
    version: str | None
    """The default version now."""
    previous: str | None
    changes: tuple[Change, ...] = ()
    detail: str = ""

    def to_record(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "result": self.result,
            "default_version": self.version,
            "previous_default_version": self.previous,
            "changes": [c.to_record() for c in self.changes],
            "detail": self.detail,
        }


def apply_plan(ssm: Any, plan: Plan) -> Outcome:
    """Carry out `plan` (raises the AWS error of a step that failed)."""
    state = plan.state
    if plan.action == "none":
        return Outcome(plan.region, "unchanged", state.default_version, state.default_version)
    if plan.action == "create":
        version = _create(ssm, plan.content())
        return Outcome(plan.region, "created", version, None, plan.changes)
    if plan.action == "promote":
        version = str(state.latest_version)
        _promote(ssm, version, created=False)
        return Outcome(plan.region, "promoted", version, state.default_version, plan.changes)
    version = _update(ssm, plan.content(), str(state.latest_version))
    _promote(ssm, version, created=True)
    return Outcome(plan.region, "updated", version, state.default_version, plan.changes)


def _text(content: Mapping[str, Any], layout: int) -> str:
    return json.dumps(content, indent=2, ensure_ascii=False) + "\n" * layout


def _create(ssm: Any, content: Mapping[str, Any]) -> str:
    response = ssm.create_document(
        Name=DOCUMENT_NAME,
        Content=_text(content, 0),
        DocumentType="Session",
        DocumentFormat="JSON",
    )
    description = response.get("DocumentDescription", {})
    return str(description.get("DefaultVersion") or description.get("DocumentVersion") or "1")


def _update(ssm: Any, content: Mapping[str, Any], latest: str) -> str:
    """UpdateDocument on the version read (not $LATEST): a concurrent edit is refused."""
    import botocore.exceptions

    layout = 0
    while True:
        try:
            response = ssm.update_document(
                Name=DOCUMENT_NAME,
                Content=_text(content, layout),
                DocumentVersion=latest,
                DocumentFormat="JSON",
            )
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code == "DuplicateDocumentContent" and layout + 1 < _LAYOUTS:
                layout += 1
                continue
            if code == "InvalidDocumentVersion":
                raise AwsError(
                    f"{DOCUMENT_NAME} changed since it was read (version {latest} is no longer "
                    "the latest); nothing written, run the command again",
                    code,
                    "UpdateDocument",
                ) from None
            raise
        return str(response["DocumentDescription"]["DocumentVersion"])


def _promote(ssm: Any, version: str, *, created: bool) -> None:
    try:
        ssm.update_document_default_version(Name=DOCUMENT_NAME, DocumentVersion=version)
    except Exception as exc:
        if not created:
            raise
        error = translate(exc)
        if error is None:
            raise
        raise AwsError(
            f"version {version} was written but not made the default: {error.message}",
            getattr(error, "code", ""),
            "UpdateDocumentDefaultVersion",
        ) from exc
