"""`ssmctl audit export`: formats, atomic and private files, resume, summary."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ssmctl.audit.export import AtomicFile, ResumePoint, sweep_partials, write_export
from ssmctl.sandbox import Sandbox
from tests.audit import records
from tests.audit.conftest import iso, window
from tests.conftest import RunCli

pytestmark = pytest.mark.usefixtures("unthrottled")


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """A directory of its own (tmp_path also holds the sandbox's empty AWS files)."""
    path = tmp_path / "exports"
    path.mkdir()
    return path


def _seed(sandbox: Sandbox, count: int, begin: dt.datetime, **kwargs: Any) -> list[dict[str, Any]]:
    raw = records.sessions_history(
        ["alice", "nguyen@example.com"], begin, count, account=sandbox.account_id, **kwargs
    )
    sandbox.add_history(raw, bucket=False)
    return raw


def _export(cli: RunCli, out: Path | str, begin: dt.datetime, end: dt.datetime, *args: str) -> Any:
    return cli(
        "audit", "export", "--out", str(out), "--since", iso(begin), "--until", iso(end), *args
    )


def test_jsonl_json_and_csv(sandbox: Sandbox, cli: RunCli, out_dir: Path) -> None:
    begin, end = window()
    raw = _seed(sandbox, 30, begin)
    for fmt in ("jsonl", "json", "csv"):
        out = out_dir / f"events.{fmt}"
        result = _export(cli, out, begin, end, "--format", fmt)
        assert result.exit_code == 0, result.stderr
        assert os.stat(out).st_mode & 0o777 == 0o600
        text = out.read_text()
        if fmt == "jsonl":
            rows = [json.loads(line) for line in text.splitlines()]
        elif fmt == "json":
            rows = json.loads(text)
        else:
            rows = list(csv.DictReader(io.StringIO(text)))
        assert [r["event_id"] for r in rows] == [r["eventID"] for r in raw]
        assert "streamUrl" not in text and "role=publish_subscribe" not in text
        assert "30 events from" in result.stderr and "by user: alice" in result.stderr
        assert f"written to {out}" in result.stderr
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "events.csv",
        "events.json",
        "events.jsonl",
    ]


def test_raw_records_hide_stream_urls_and_tokens(
    sandbox: Sandbox, cli: RunCli, out_dir: Path
) -> None:
    begin, end = window()
    _seed(sandbox, 3, begin)
    out = out_dir / "raw.jsonl"
    assert _export(cli, out, begin, end, "--include-raw").exit_code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    response = rows[0]["cloudtrail"]["responseElements"]
    assert response["streamUrl"].endswith("/data-channel/" + rows[0]["session_id"] + "?REDACTED")
    assert response["tokenValue"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    assert "cell-number" not in out.read_text()


def test_stdout(sandbox: Sandbox, cli: RunCli) -> None:
    begin, end = window()
    raw = _seed(sandbox, 4, begin)
    result = _export(cli, "-", begin, end)
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["event_id"] for line in result.stdout.splitlines()] == [
        r["eventID"] for r in raw
    ]
    assert "written to stdout" in result.stderr


def test_a_failed_export_leaves_the_previous_file_and_nothing_else(
    sandbox: Sandbox, cli: RunCli, out_dir: Path
) -> None:
    out = out_dir / "audit.jsonl"
    out.write_text('{"good": "export"}\n')
    result = cli("audit", "export", "--out", str(out), "--trail", "s3://no-such-trail-bucket")
    assert result.exit_code == 1 and "NoSuchBucket" in result.stderr
    assert f"nothing written: {out} is as it was" in result.stderr
    assert out.read_text() == '{"good": "export"}\n'
    assert [p.name for p in out_dir.iterdir()] == ["audit.jsonl"]


@pytest.mark.parametrize("unnamed", [True, False])
def test_an_error_mid_stream_writes_nothing(out_dir: Path, unnamed: bool) -> None:
    out = out_dir / "audit.jsonl"
    out.write_text("previous\n")

    def records_then_failure() -> Iterator[dict[str, Any]]:
        for n in range(5):
            yield {"event_id": str(n), "time": "2025-01-01T00:00:00Z"}
        raise RuntimeError("page 2 kept failing")

    with pytest.raises(RuntimeError):
        write_export(records_then_failure(), "jsonl", path=out, unnamed_temp=unnamed)
    assert out.read_text() == "previous\n"
    assert [p.name for p in out_dir.iterdir()] == ["audit.jsonl"]


@pytest.mark.parametrize("unnamed", [True, False])
def test_private_whatever_the_umask(out_dir: Path, unnamed: bool) -> None:
    out = out_dir / "audit.csv"
    out.write_text("old\n")
    out.chmod(0o644)
    before = os.umask(0)
    try:
        count = write_export(
            iter([{"event_id": "1", "reason": "=cmd|' /C calc'!A0"}]),
            "csv",
            path=out,
            unnamed_temp=unnamed,
        )
    finally:
        os.umask(before)
    assert count == 1
    assert os.stat(out).st_mode & 0o777 == 0o600
    assert out.read_text() == "event_id,reason\n1,'=cmd|' /C calc'!A0\n"


def test_stale_partial_files_are_removed_live_ones_kept(out_dir: Path) -> None:
    out = out_dir / "audit.jsonl"
    dead = out_dir / ".audit.jsonl.999999999.0a1b2c3d.ssmctl-partial"
    alive = out_dir / f".audit.jsonl.{os.getpid()}.0a1b2c3d.ssmctl-partial"
    other = out_dir / ".other.jsonl.999999999.0a1b2c3d.ssmctl-partial"
    for path in (dead, alive, other):
        path.write_text("partial")
    with AtomicFile(out, unnamed=False) as target:
        assert target.stream is not None
        target.stream.write("x\n")
        target.commit()
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(
        ["audit.jsonl", alive.name, other.name]
    )
    assert sweep_partials(out) == []


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_resume_continues_without_duplicates(
    sandbox: Sandbox, cli: RunCli, out_dir: Path, fmt: str
) -> None:
    begin, end = window()
    first = _seed(sandbox, 20, begin)
    out = out_dir / f"audit.{fmt}"
    assert _export(cli, out, begin, end, "--format", fmt).exit_code == 0
    last = dt.datetime.fromisoformat(first[-1]["eventTime"].replace("Z", "+00:00"))
    # Later events, and one CloudTrail made visible late (older than the newest exported).
    later = _seed(sandbox, 10, last + dt.timedelta(minutes=5))
    late = records.start(
        records.session_id("late", 1), last - dt.timedelta(minutes=1), account=sandbox.account_id
    )
    sandbox.add_history([late], bucket=False)
    result = cli(
        "audit", "export", "--out", str(out), "--format", fmt, "--resume", "--until", iso(end)
    )
    assert result.exit_code == 0, result.stderr
    assert "resuming after 20 records" in result.stderr and "11 events" in result.stderr
    text = out.read_text()
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert text.count("event_id,") == 1
    else:
        rows = [json.loads(line) for line in text.splitlines()]
    ids = [r["event_id"] for r in rows]
    assert len(ids) == len(set(ids)) == 31
    assert ids[:20] == [r["eventID"] for r in first]
    assert set(ids[20:]) == {r["eventID"] for r in later} | {late["eventID"]}
    # Resuming again finds nothing new.
    again = cli(
        "audit", "export", "--out", str(out), "--format", fmt, "--resume", "--until", iso(end)
    )
    assert again.exit_code == 0 and "0 events" in again.stderr
    assert out.read_text() == text


def test_resume_point_reads_an_export() -> None:
    path_rows = [
        {"event_id": "a", "time": "2025-01-01T00:00:00Z"},
        {"event_id": "b", "time": "2025-01-01T00:50:00Z"},
        {"event_id": "c", "time": "2025-01-01T01:00:00Z"},
    ]
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in path_rows))
        point = ResumePoint.read(path, "jsonl", id_field="event_id", time_field="time")
        assert point.count == 3 and point.seen == {"b", "c"}
        assert point.since == dt.datetime(2025, 1, 1, 0, 45, tzinfo=dt.timezone.utc)
        path.write_text('{"event_id": "a", "time": "2025-01-01T00:00:00Z"}\nnot json\n')
        with pytest.raises(Exception, match=r"x\.jsonl:2 is not a JSON record"):
            ResumePoint.read(path, "jsonl", id_field="event_id", time_field="time")
        missing = ResumePoint.read(
            Path(tmp) / "none", "csv", id_field="event_id", time_field="time"
        )
        assert missing.last is None and missing.count == 0


def test_usage_errors(cli: RunCli, out_dir: Path) -> None:
    out = str(out_dir / "x.json")
    cases = [
        (("--format", "json", "--resume"), "--resume works with jsonl or csv"),
        (("--include-transcripts",), "--include-transcripts needs --what sessions"),
        (("--what", "sessions", "--include-raw"), "--include-raw needs --what events"),
        (("--account", "111122223333"), "--account works with --trail"),
        (("--trail", "bucket-without-scheme"), "bad S3 location"),
        (("--event", "launch"), "unknown session event 'launch'"),
        (("--since", "1h", "--until", "2h"), "--since is later than --until"),
    ]
    for args, message in cases:
        result = cli("audit", "export", "--out", out, *args)
        assert result.exit_code == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
    resumed = cli("audit", "export", "--out", "-", "--resume")
    assert resumed.exit_code == 2 and "--resume needs --out FILE" in resumed.stderr


def test_progress_bar_on_a_terminal_only(sandbox: Sandbox) -> None:
    from ssmctl.cli.audit_export import _Progress
    from ssmctl.cli.context import App
    from ssmctl.settings import Flags

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    begin = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    for stream, shown in ((Terminal(), True), (io.StringIO(), False)):
        app = App(Flags(no_color=True), stdout=io.StringIO(), stderr=stream)
        progress = _Progress(app, begin, begin + dt.timedelta(hours=2), "time")
        progress.update({"time": "2025-01-01T01:00:00Z"})
        progress.close()
        assert ("exporting" in stream.getvalue()) is shown
