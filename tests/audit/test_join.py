"""Joining events and DescribeSessions entries into one record per session."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from ssmctl.audit.events import normalise
from ssmctl.audit.join import SessionFilter, how_it_ended, join_sessions
from ssmctl.audit.records import SessionRecord
from ssmctl.models import SessionInfo
from tests.audit import records

UTC = dt.timezone.utc
T0 = dt.datetime(2025, 6, 12, 10, 0, tzinfo=UTC)
REGION = "us-east-1"


def _at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def _join(
    raw: list[dict[str, Any]], infos: Sequence[SessionInfo] = (), **options: Any
) -> list[SessionRecord]:
    events = sorted((normalise(r) for r in raw), key=lambda e: e.sort_key)
    history = {(i.region, i.session_id): i for i in infos}
    return list(join_sessions(events, history, **options))


def _info(
    sid: str, status: str, start: float, end: float | None = None, **kwargs: Any
) -> SessionInfo:
    return SessionInfo(
        session_id=sid,
        region=REGION,
        target=kwargs.pop("target", "i-0123456789abcdef0"),
        status=status,
        owner=kwargs.pop("owner", ""),
        start=_at(start),
        end=_at(end) if end is not None else None,
        **kwargs,
    )


def test_start_resumes_and_a_terminate_by_another_user() -> None:
    sid = records.session_id("alice", 1)
    bob = records.iam_user("bob")
    raw = [
        records.start(sid, _at(0), reason="INC-42", target="i-0aaaaaaaaaaaaaaaa"),
        records.follow_up("ResumeSession", sid, _at(60)),
        records.follow_up("ResumeSession", sid, _at(120)),
        records.follow_up("TerminateSession", sid, _at(300), identity=bob),
        # After the end: not a resume, and a second terminate changes nothing.
        records.follow_up("ResumeSession", sid, _at(400)),
        records.follow_up("TerminateSession", sid, _at(500)),
    ]
    (record,) = _join(raw)
    assert record.session_id == sid and record.user_name == "alice"
    assert record.user_arn == f"arn:aws:iam::{records.ACCOUNT}:user/alice"
    assert record.target == "i-0aaaaaaaaaaaaaaaa" and record.reason == "INC-42"
    assert record.document == "SSM-SessionManagerRunShell"
    assert (record.start, record.end) == (_at(0), _at(300))
    assert record.duration == dt.timedelta(minutes=5)
    assert record.resumes == 2
    assert record.status == "Terminated"
    assert (record.ended_by, record.terminated_by) == ("terminated", bob["arn"])


def test_terminate_in_the_same_second_as_the_start() -> None:
    sid = records.session_id("carol", 2, style="17")
    # Listed newest first (as LookupEvents does); CloudTrail times are whole seconds.
    raw = [records.follow_up("TerminateSession", sid, _at(0)), records.start(sid, _at(0))]
    (record,) = _join(raw)
    assert record.user_name == "carol" and record.ended_by == "terminated"
    assert record.terminated_by == f"arn:aws:iam::{records.ACCOUNT}:user/carol"


def test_describe_sessions_says_how_it_ended() -> None:
    cases = {
        "The shell exited with status 0.": "exit",
        "The connection to 127.0.0.1:5432 closed.": "exit",
        "The client ended the session (TerminateSession flag).": "client",
        "No input from the client for 20 minutes (idleSessionTimeout).": "idle timeout",
        "The session reached its maximum duration of 60 minutes (maxSessionDuration).": (
            "maximum duration"
        ),
    }
    for n, (details, ending) in enumerate(cases.items()):
        sid = records.session_id("dave", n)
        info = _info(sid, "Terminated", 0, 600, details=details)
        (record,) = _join([records.start(sid, _at(0))], [info])
        assert (record.ended_by, record.end_details) == (ending, details), details
        assert record.end == _at(600) and record.terminated_by is None


def test_without_details_only_what_the_data_shows() -> None:
    sid = records.session_id("erin", 1)
    failed = _info(sid, "Failed", 0, 300)
    assert _join([records.start(sid, _at(0))], [failed])[0].ended_by == "failed"
    long = _info(sid, "Terminated", 0, 3600, max_session_duration="60")
    assert _join([records.start(sid, _at(0))], [long])[0].ended_by == "maximum duration"
    short = _info(sid, "Terminated", 0, 1200, max_session_duration="60")
    # An exit and an idle timeout look the same to CloudTrail and DescribeSessions.
    assert _join([records.start(sid, _at(0))], [short])[0].ended_by == "unknown"
    running = _info(sid, "Connected", 0)
    (record,) = _join([records.start(sid, _at(0))], [running])
    assert (record.ended_by, record.end, record.status) == (None, None, "Connected")
    # Older than DescribeSessions' 30 days and never terminated: nothing is known.
    (old,) = _join([records.start(sid, _at(0))])
    assert (old.status, old.ended_by, old.end) == (None, "unknown", None)
    # A TerminateSession long after the session had ended did not end it.
    ended = _info(sid, "Terminated", 0, 60)
    raw = [records.start(sid, _at(0)), records.follow_up("TerminateSession", sid, _at(900))]
    assert _join(raw, [ended])[0].terminated_by is None


def test_sessions_known_only_to_describe_sessions_and_orphan_events() -> None:
    alone = records.session_id("frank", 1)
    orphan = records.session_id("nguyen@example.com", 2)
    info = _info(alone, "Terminated", 10, 70, owner="arn:aws:iam::1:user/frank", target="i-0f")
    raw = [records.follow_up("TerminateSession", orphan, _at(100))]
    out = {r.session_id: r for r in _join(raw, [info], since=T0, until=_at(3600))}
    assert out[alone].user_arn == "arn:aws:iam::1:user/frank" and out[alone].target == "i-0f"
    assert out[alone].user_name == "frank" and out[alone].start == _at(10)
    # The Start was before the range: who started it comes from the session id.
    assert out[orphan].user_name == "nguyen@example.com" and out[orphan].start is None
    assert out[orphan].ended_by == "terminated"


def test_records_come_out_in_order_of_start_and_failed_starts_are_not_sessions() -> None:
    a, b, c = (records.session_id(u, 1) for u in ("ann", "ben", "cat"))
    raw = [
        records.start(a, _at(0)),
        records.start(b, _at(10)),
        records.follow_up("TerminateSession", b, _at(20)),
        records.start(c, _at(30)),
        records.follow_up("TerminateSession", c, _at(40)),
        records.follow_up("TerminateSession", a, _at(50)),
        records.start("x", _at(60), errorCode="TargetNotConnected", responseElements=None),
    ]
    assert [r.session_id for r in _join(raw)] == [a, b, c]


def test_filter_by_owner_and_target() -> None:
    nguyen = records.sso_user("nguyen@example.com")
    mine = records.session_id("nguyen@example.com", 1)
    theirs = records.session_id("alice", 2)
    raw = [
        records.start(mine, _at(0), identity=nguyen, target="i-0a"),
        records.start(theirs, _at(1), target="i-0b"),
    ]
    by_user = _join(raw, keep=SessionFilter(users=("nguyen@example.com",)))
    assert [r.session_id for r in by_user] == [mine]
    assert by_user[0].mfa is True and by_user[0].user_type == "AssumedRole"
    by_arn = _join(raw, keep=SessionFilter(users=(nguyen["arn"],)))
    assert [r.session_id for r in by_arn] == [mine]
    assert [r.session_id for r in _join(raw, keep=SessionFilter(targets=("i-0b",)))] == [theirs]


def test_port_forwarding_parameters_are_kept() -> None:
    (record,) = _join([records.start_sso_port_forward()])
    assert record.document == "AWS-StartPortForwardingSession"
    assert record.parameters == {"localPortNumber": ["8089"], "portNumber": ["18089"]}
    assert record.to_record()["parameters"] == record.parameters


def test_how_it_ended_is_none_while_running() -> None:
    assert how_it_ended(
        status="Connected", details=None, terminate=None, start=T0, end=None, max_minutes=None
    ) == (None, None)
