"""Events from CloudTrail LookupEvents against the sandbox: order, windows, attributes,
90 days, several regions, and throttles that lose nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from ssmctl.audit.lookup import LookupStats, Windows, lookup_events, lookup_regions
from ssmctl.audit.pacing import Pacer, RetryPolicy
from ssmctl.audit.query import EventQuery
from ssmctl.sandbox import Sandbox, TrailThrottle
from tests.audit import records
from tests.audit.conftest import Clients, window

UTC = dt.timezone.utc


def _seed(sandbox: Sandbox, raw: list[dict[str, object]]) -> set[str]:
    sandbox.add_history(raw, bucket=False)
    return {str(r["eventID"]) for r in raw}


@pytest.mark.usefixtures("unthrottled")
def test_every_event_oldest_first_across_windows(sandbox: Sandbox, clients: Clients) -> None:
    begin, end = window()
    raw = records.sessions_history(
        ["alice", "bob"], begin, 260, step=dt.timedelta(seconds=20), account=sandbox.account_id
    )
    # Events exactly on window edges (the windows below are 10 minutes, whole seconds).
    raw.append(
        records.start(
            records.session_id("edge", 1),
            begin + dt.timedelta(minutes=10),
            account=sandbox.account_id,
        )
    )
    raw.append(
        records.start(
            records.session_id("edge", 2),
            begin + dt.timedelta(minutes=20),
            account=sandbox.account_id,
        )
    )
    ids = _seed(sandbox, raw)
    stats = LookupStats("us-east-1")
    found = list(
        lookup_events(
            clients("cloudtrail", attempts=1),
            region="us-east-1",
            query=EventQuery(since=begin, until=end),
            pacer=None,
            windows=Windows(initial=dt.timedelta(minutes=10), low=50, high=100),
            chunk=40,
            stats=stats,
        )
    )
    assert {e.event_id for e in found} == ids and len(found) == len(ids)
    assert [e.sort_key for e in found] == sorted(e.sort_key for e in found)
    assert stats.windows > 3 and stats.retries == 0


@pytest.mark.usefixtures("unthrottled")
def test_lookup_by_user_and_by_event_source(sandbox: Sandbox, clients: Clients) -> None:
    begin, end = window()
    nguyen = records.sso_user("nguyen@example.com", sandbox.account_id)
    mine = records.session_id("nguyen@example.com", 5)
    raw = [
        records.start(mine, begin, identity=nguyen),
        records.follow_up(
            "TerminateSession", mine, begin + dt.timedelta(seconds=3), identity=nguyen
        ),
        *records.sessions_history(["alice"], begin, 20, account=sandbox.account_id),
    ]
    _seed(sandbox, raw)
    cloudtrail = clients("cloudtrail", attempts=1)
    by_user = list(
        lookup_events(
            cloudtrail,
            region="us-east-1",
            query=EventQuery(since=begin, until=end, users=("nguyen@example.com",)),
            pacer=None,
        )
    )
    assert [(e.event, e.user_name) for e in by_user] == [
        ("StartSession", "nguyen@example.com"),
        ("TerminateSession", "nguyen@example.com"),
    ]
    assert by_user[0].mfa is True
    by_source = list(
        lookup_events(
            cloudtrail,
            region="us-east-1",
            query=EventQuery(since=begin, until=end),
            pacer=None,
            attribute="source",
        )
    )
    by_name = list(
        lookup_events(
            cloudtrail, region="us-east-1", query=EventQuery(since=begin, until=end), pacer=None
        )
    )
    assert [e.event_id for e in by_source] == [e.event_id for e in by_name]
    assert len(by_name) == len(raw)


@pytest.mark.usefixtures("unthrottled")
def test_only_the_last_90_days(sandbox: Sandbox, clients: Clients) -> None:
    old = dt.datetime.now(UTC) - dt.timedelta(days=100)
    sid = records.session_id("ghost", 1)
    _seed(sandbox, [records.start(sid, old, account=sandbox.account_id)])
    stats = LookupStats("us-east-1")
    found = list(
        lookup_events(
            clients("cloudtrail", attempts=1),
            region="us-east-1",
            query=EventQuery(since=old - dt.timedelta(hours=1), until=old + dt.timedelta(hours=1)),
            pacer=None,
            stats=stats,
        )
    )
    assert found == [] and stats.calls == 0


@pytest.mark.usefixtures("unthrottled")
def test_several_regions_merged_in_time_order(sandbox: Sandbox, clients: Clients) -> None:
    begin, end = window()
    us = records.sessions_history(
        ["alice"], begin, 30, region="us-east-1", account=sandbox.account_id
    )
    eu = records.sessions_history(
        ["bob"], begin + dt.timedelta(seconds=3), 30, region="eu-west-1", account=sandbox.account_id
    )
    _seed(sandbox, us + eu)
    stats: dict[str, LookupStats] = {}
    found = list(
        lookup_regions(
            lambda region: clients("cloudtrail", region=region, attempts=1),
            lambda region: None,
            ["us-east-1", "eu-west-1"],
            EventQuery(since=begin, until=end),
            stats=stats,
        )
    )
    assert len(found) == 60 and {e.region for e in found} == {"us-east-1", "eu-west-1"}
    assert [e.sort_key for e in found] == sorted(e.sort_key for e in found)
    assert set(stats) == {"us-east-1", "eu-west-1"}


def test_an_impatient_client_is_throttled_but_loses_nothing(
    sandbox: Sandbox, clients: Clients
) -> None:
    """Paced at 8 calls/s against AWS's 2: throttles, retries, and every event."""
    begin, end = window()
    raw = records.sessions_history(
        ["alice", "bob", "carol"], begin, 400, account=sandbox.account_id
    )
    ids = _seed(sandbox, raw)
    before = sandbox.trail_throttle
    sandbox.trail_throttle = TrailThrottle(rate=2, burst=2)
    try:
        stats = LookupStats("us-east-1")
        found = list(
            lookup_events(
                clients("cloudtrail", attempts=1),
                region="us-east-1",
                query=EventQuery(since=begin, until=end),
                pacer=Pacer(8.0, floor=8.0),
                policy=RetryPolicy(attempts=30, base=0.05, cap=0.5),
                stats=stats,
            )
        )
    finally:
        sandbox.trail_throttle = before
    assert stats.retries > 0
    assert {e.event_id for e in found} == ids and len(found) == len(ids)
