"""How `ssmctl prefs` shows preferences, differences and results (field names: docs/prefs.md)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import IO, Any

from ssmctl.output import Column, render
from ssmctl.prefs import DOCUMENT_NAME, KEYS, Change, Value, nested
from ssmctl.prefs_document import DocumentState, Outcome, Plan
from ssmctl.sanitize import terminal_safe


def show_value(value: Value | None) -> str:
    """How a value reads for people: true/false, (not set) for an empty string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or value == "":
        return "(not set)"
    return value


SHOW_COLUMNS = (
    Column("region", "REGION", no_wrap=True),
    Column("key", "KEY", no_wrap=True),
    Column("value", "VALUE", display=show_value),
    Column("source", "SOURCE"),
)
_KEY_COLUMNS = SHOW_COLUMNS[1:]
DIFF_COLUMNS = (
    Column("region", "REGION", no_wrap=True),
    Column("action", "ACTION"),
    Column("key", "KEY", no_wrap=True),
    Column("before", "BEFORE", display=show_value),
    Column("after", "AFTER", display=show_value),
)
RESULT_COLUMNS = (
    Column("region", "REGION", no_wrap=True),
    Column("result", "RESULT"),
    Column("default_version", "DEFAULT", no_wrap=True),
    Column("previous_default_version", "BEFORE", no_wrap=True),
    Column("changes", "CHANGES", display=lambda v: ", ".join(c["key"] for c in v) or "-"),
    Column("detail", "DETAIL"),
)


def lag_warning(state: DocumentState) -> str | None:
    """The warning when the latest version is not the default one."""
    if not state.lagging:
        return None
    keys = ", ".join(c.key for c in state.lag_changes()) or "no preference, only the text"
    return (
        f"latest version {state.latest_version} of {DOCUMENT_NAME} is not the default "
        f"({state.default_version}): the console and sessions without a document name use "
        f"version {state.default_version}, sessions that name the document use "
        f"{state.latest_version} (they differ in: {keys})"
    )


def show_record(state: DocumentState) -> dict[str, Any]:
    """The machine-format record of `prefs show` for one region."""
    return {
        "region": state.region,
        "document": DOCUMENT_NAME,
        "exists": state.exists,
        "default_version": state.default_version,
        "latest_version": state.latest_version,
        "preferences": nested(state.default.values),
        "defaults": [k for k in KEYS if k not in state.default.present],
        "latest_changes": [c.to_record() for c in state.lag_changes()],
        "warning": lag_warning(state),
    }


def show_rows(state: DocumentState) -> Iterable[dict[str, Any]]:
    for key in KEYS:
        yield {
            "region": state.region,
            "key": key,
            "value": state.default.values[key],
            "source": "document" if key in state.default.present else "default",
        }


def heading(state: DocumentState) -> str:
    if not state.exists:
        return (
            f"{state.region}: no {DOCUMENT_NAME} document; AWS's defaults apply "
            "(create it: ssmctl prefs init)"
        )
    versions = f"default version {state.default_version}, latest {state.latest_version}"
    return f"{state.region}: {DOCUMENT_NAME} {versions}"


def write_show_tables(states: Sequence[DocumentState], out: IO[str], *, color: bool) -> None:
    for n, state in enumerate(states):
        out.write(("\n" if n else "") + terminal_safe(heading(state)) + "\n")
        render(show_rows(state), "table", _KEY_COLUMNS, out, color=color)


def action_line(planned: Plan) -> str:
    """What a plan does to the region's document, in one line."""
    state, region = planned.state, planned.region
    if planned.action == "create":
        return f"{region}: no {DOCUMENT_NAME} document -> new document, version 1"
    if planned.action == "promote":
        return (
            f"{region}: default version {state.default_version} -> {state.latest_version} "
            "(the latest version, which already holds these preferences)"
        )
    if planned.action == "update":
        new = _next_version(state.latest_version)
        return f"{region}: default version {state.default_version} -> new version {new}"
    return f"{region}: no changes (default version {state.default_version})"


def _next_version(latest: str | None) -> str:
    # AWS numbers a document's versions 1, 2, 3, ...: the next one is latest + 1.
    return str(int(latest) + 1) if latest and latest.isdigit() else "(next)"


def change_line(change: Change, width: int) -> str:
    return f"  {change.key.ljust(width)}  {show_value(change.before)} -> {show_value(change.after)}"


def write_diff(plans: Sequence[Plan], out: IO[str]) -> None:
    """The before -> after text of every region, for people."""
    width = max((len(c.key) for p in plans for c in p.changes), default=0)
    for planned in plans:
        out.write(terminal_safe(action_line(planned)) + "\n")
        for change in planned.changes:
            out.write(terminal_safe(change_line(change, width)) + "\n")
        lag = planned.latest_changes()
        if lag:
            version = planned.state.latest_version
            out.write(f"  from the latest version {version}, which is not the default:\n")
            for change in lag:
                out.write(terminal_safe("  " + change_line(change, width)) + "\n")
    out.flush()


def diff_rows(plans: Sequence[Plan]) -> Iterable[dict[str, Any]]:
    """One row per changed input (text format); a region that only needs its document
    created or a version promoted gets one row without a key."""
    for planned in plans:
        if planned.action == "none":
            continue
        for change in planned.changes or (None,):
            yield {
                "region": planned.region,
                "action": planned.action,
                "key": change.key if change else None,
                "before": change.before if change else None,
                "after": change.after if change else None,
            }


def result_records(outcomes: Iterable[Outcome]) -> Iterable[dict[str, Any]]:
    return (o.to_record() for o in outcomes)
