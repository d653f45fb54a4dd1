"""Queries: event names, which LookupEvents attribute, and the client-side filters."""

from __future__ import annotations

import datetime as dt

import pytest

from ssmctl.audit.events import normalise
from ssmctl.audit.query import EventFilter, EventQuery, lookup_attributes, parse_event_names
from ssmctl.errors import UsageError
from tests.audit import records

UTC = dt.timezone.utc
T0 = dt.datetime(2025, 6, 12, 10, 0, tzinfo=UTC)


def _query(**kwargs: object) -> EventQuery:
    return EventQuery(since=T0, until=T0 + dt.timedelta(hours=1), **kwargs)  # type: ignore[arg-type]


def test_event_names() -> None:
    assert parse_event_names("start,Terminate") == ("StartSession", "TerminateSession")
    assert parse_event_names("ResumeSession, resume") == ("ResumeSession",)
    with pytest.raises(UsageError, match="unknown session event 'stop'"):
        parse_event_names("start,stop")
    with pytest.raises(UsageError, match="--since is later"):
        EventQuery(since=T0, until=T0 - dt.timedelta(seconds=1))


def test_the_lookup_attribute_is_chosen_per_query() -> None:
    assert lookup_attributes(_query()) == [
        ("EventName", "StartSession"),
        ("EventName", "ResumeSession"),
        ("EventName", "TerminateSession"),
    ]
    assert lookup_attributes(_query(events=("StartSession",))) == [("EventName", "StartSession")]
    # One user: that person's calls are the smaller stream.
    assert lookup_attributes(_query(users=("alice",))) == [("Username", "alice")]
    arn = "arn:aws:sts::1:assumed-role/AWSReservedSSO_Admin_0123/nguyen@example.com"
    assert lookup_attributes(_query(users=(arn,))) == [("Username", "nguyen@example.com")]
    assert lookup_attributes(_query(users=("a", "b")))[0][0] == "EventName"
    assert lookup_attributes(_query(), "source") == [("EventSource", "ssm.amazonaws.com")]
    with pytest.raises(UsageError):
        lookup_attributes(_query(), "user")


def test_filters_keep_resume_and_terminate_of_sessions_started_on_the_target() -> None:
    sid = records.session_id("alice", 1)
    other = records.session_id("bob", 2)
    stream = [
        records.start(sid, T0, target="i-0aaaaaaaaaaaaaaaa"),
        records.start(other, T0, target="i-0bbbbbbbbbbbbbbbb"),
        records.follow_up("ResumeSession", sid, T0 + dt.timedelta(seconds=5)),
        records.follow_up("TerminateSession", other, T0 + dt.timedelta(seconds=6)),
        records.follow_up("TerminateSession", sid, T0 + dt.timedelta(seconds=7)),
    ]
    accept = EventFilter(_query(targets=("i-0aaaaaaaaaaaaaaaa",)))
    kept = [e for e in map(normalise, stream) if accept(e)]
    assert [(e.event, e.session_id) for e in kept] == [
        ("StartSession", sid),
        ("ResumeSession", sid),
        ("TerminateSession", sid),
    ]


def test_user_filter_by_name_or_arn_and_the_range_is_inclusive() -> None:
    nguyen = records.sso_user("nguyen@example.com")
    sid = records.session_id("nguyen@example.com", 3)
    event = normalise(records.start(sid, T0, identity=nguyen))
    assert EventFilter(_query(users=("NGUYEN@example.com",)))(event)
    assert EventFilter(_query(users=(nguyen["arn"],)))(event)
    assert not EventFilter(_query(users=("alice",)))(event)
    late = normalise(records.start(sid, T0 + dt.timedelta(hours=1)))
    assert EventFilter(_query())(late)
    assert not EventFilter(_query())(normalise(records.start(sid, T0 + dt.timedelta(hours=2))))
    assert not EventFilter(_query(events=("TerminateSession",)))(event)
    assert not EventFilter(_query(session_ids=("x",)))(event)
