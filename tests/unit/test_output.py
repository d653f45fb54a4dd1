from __future__ import annotations

import csv
import io
import json
from typing import Any

import yaml

from ssmctl.output import Column, render

COLUMNS = (Column("id", "ID"), Column("name", "NAME"), Column("tags", "TAGS"))
RECORDS: list[dict[str, Any]] = [
    {"id": "i-1", "name": "web-1", "tags": {"Env": "prod"}},
    {"id": "i-2", "name": '=HYPERLINK("x")\x1b[31m', "tags": {}},
]


def _render(fmt: str, records: list[dict[str, Any]] | None = None) -> str:
    out = io.StringIO()
    render(iter(RECORDS if records is None else records), fmt, COLUMNS, out)
    return out.getvalue()


def test_json_is_a_list_of_every_field() -> None:
    assert json.loads(_render("json")) == RECORDS
    assert json.loads(_render("json", [])) == []


def test_jsonl_one_record_per_line() -> None:
    lines = _render("jsonl").splitlines()
    assert [json.loads(line) for line in lines] == RECORDS


def test_yaml_round_trips() -> None:
    assert yaml.safe_load(_render("yaml")) == RECORDS
    assert yaml.safe_load(_render("yaml", [])) == []


def test_csv_has_header_and_inert_cells() -> None:
    rows = list(csv.DictReader(io.StringIO(_render("csv"))))
    assert rows[0] == {"id": "i-1", "name": "web-1", "tags": '{"Env": "prod"}'}
    assert rows[1]["name"].startswith("'=HYPERLINK")
    assert "\x1b" not in rows[1]["name"]


def test_text_is_tab_separated_columns() -> None:
    lines = _render("text").splitlines()
    assert lines[0].split("\t") == ["i-1", "web-1", "Env=prod"]
    assert "\x1b" not in lines[1]


def test_table_shows_headers_and_escapes() -> None:
    text = _render("table")
    assert "ID" in text and "web-1" in text
    assert "\x1b" not in text
