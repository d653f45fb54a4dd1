"""One `render()` for every output format: table, json, jsonl, yaml, csv, text.

Records are plain dicts with the stable field names of `to_record()`. Machine formats
(json, jsonl, yaml) carry every field; csv carries every field with nested values as
compact JSON; text and table show the command's columns. Everything untrusted is made
inert on the way out (see sanitize.py). Records are consumed as a stream: json, jsonl,
csv and text write each record as it arrives.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import IO, Any

from ssmctl.sanitize import csv_safe, json_dumps, terminal_safe

FORMATS = ("table", "json", "jsonl", "yaml", "csv", "text")
_UNBOUNDED = 100_000


@dataclasses.dataclass(frozen=True)
class Column:
    """A column of table and text output."""

    key: str
    header: str
    no_wrap: bool = False
    """Keep the cell on one line in tables (identifiers people copy)."""
    display: Callable[[Any], str] | None = None
    """How the value reads in a table (default: str, with None shown as '-')."""
    style: Callable[[Any], str | None] | None = None
    """A rich style for the cell (table only), from the value."""


def render(
    records: Iterable[Mapping[str, Any]],
    fmt: str,
    columns: Sequence[Column],
    out: IO[str],
    *,
    color: bool = False,
    width: int | None = None,
) -> int:
    """Write `records` to `out` in `fmt`; return how many were written."""
    if fmt == "json":
        return _json(records, out)
    if fmt == "jsonl":
        return _jsonl(records, out)
    if fmt == "yaml":
        return _yaml(records, out)
    if fmt == "csv":
        return _csv(records, out)
    if fmt == "text":
        return _text(records, columns, out)
    if fmt == "table":
        return _table(records, columns, out, color=color, width=width)
    raise ValueError(f"unknown output format {fmt!r}")


def cell_text(column: Column, value: Any) -> str:
    """The terminal-safe text of one table/text cell."""
    if column.display is not None:
        text = column.display(value)
    elif value is None or value == "":
        text = "-"
    elif isinstance(value, Mapping):
        text = ",".join(f"{k}={v}" for k, v in value.items())
    else:
        text = str(value)
    return terminal_safe(text)


def _json(records: Iterable[Mapping[str, Any]], out: IO[str]) -> int:
    count = 0
    out.write("[")
    for record in records:
        out.write(",\n  " if count else "\n  ")
        out.write(json_dumps(record, indent=2).replace("\n", "\n  "))
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count


def _jsonl(records: Iterable[Mapping[str, Any]], out: IO[str]) -> int:
    count = 0
    for record in records:
        out.write(json_dumps(record))
        out.write("\n")
        count += 1
    return count


def _yaml(records: Iterable[Mapping[str, Any]], out: IO[str]) -> int:
    import yaml

    count = 0
    for record in records:
        # Each record as a one-item list: the concatenation is one valid YAML list.
        out.write(yaml.safe_dump([dict(record)], sort_keys=False, allow_unicode=True))
        count += 1
    if not count:
        out.write("[]\n")
    return count


def csv_cell(value: Any) -> str:
    """One CSV cell: nested values as compact JSON, booleans as true/false, all inert."""
    if value is None:
        return ""
    if isinstance(value, (Mapping, list, tuple)):
        return csv_safe(json_dumps(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return csv_safe(value)


def _csv(records: Iterable[Mapping[str, Any]], out: IO[str]) -> int:
    writer: Any = None
    count = 0
    for record in records:
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(record), lineterminator="\n")
            writer.writeheader()
        writer.writerow({k: csv_cell(v) for k, v in record.items()})
        count += 1
    return count


def _text(records: Iterable[Mapping[str, Any]], columns: Sequence[Column], out: IO[str]) -> int:
    count = 0
    for record in records:
        values = []
        for column in columns:
            value = record.get(column.key)
            values.append("" if value is None else cell_text(column, value))
        out.write("\t".join(values) + "\n")
        count += 1
    return count


def _table(
    records: Iterable[Mapping[str, Any]],
    columns: Sequence[Column],
    out: IO[str],
    *,
    color: bool,
    width: int | None,
) -> int:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold" if color else "", pad_edge=False)
    for column in columns:
        table.add_column(column.header, overflow="fold", no_wrap=column.no_wrap)
    count = 0
    for record in records:
        cells = []
        for column in columns:
            value = record.get(column.key)
            style = column.style(value) if (color and column.style) else None
            # Text(), never markup: tag values and reasons are untrusted.
            cells.append(Text(cell_text(column, value), style=style or ""))
        table.add_row(*cells)
        count += 1
    console = Console(
        file=out,
        no_color=not color,
        color_system="auto" if color else None,
        highlight=False,
        # On a terminal Rich fits the table to its width; into a file or pipe the table
        # keeps its natural width instead of folding at 80 columns.
        width=width or (None if _isatty(out) else _UNBOUNDED),
        soft_wrap=False,
    )
    if count:
        console.print(table)
    return count


def _isatty(out: IO[str]) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False
