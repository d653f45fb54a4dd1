"""Events from CloudTrail trail files in S3, delivered by the sandbox as AWS delivers them."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
import uuid
from typing import Any

import pytest

from ssmctl.audit.lookup import lookup_events
from ssmctl.audit.query import EventQuery
from ssmctl.audit.trail_files import (
    S3Location,
    TrailStats,
    account_folders,
    file_stamp,
    parse_trail_file,
    trail_events,
)
from ssmctl.errors import UsageError
from ssmctl.sandbox import Sandbox
from tests.audit import records
from tests.audit.conftest import Clients

UTC = dt.timezone.utc
KEY = re.compile(
    r"^(?P<prefix>.+/)?AWSLogs/(?:o-[a-z0-9]+/)?(?P<account>\d{12})/CloudTrail/(?P<region>[a-z0-9-]+)/"
    r"(?P<date>\d{4}/\d{2}/\d{2})/(?P=account)_CloudTrail_(?P=region)_(?P<stamp>\d{8}T\d{4}Z)_"
    r"[A-Za-z0-9]{16}\.json\.gz$"
)


def _bucket() -> str:
    return f"trail-{uuid.uuid4().hex[:12]}"


def test_live_calls_are_delivered_as_trail_files(sandbox: Sandbox, clients: Clients) -> None:
    bucket = _bucket()
    sandbox.deliver_trail(bucket, "org/trails")
    ssm = clients("ssm")
    started = dt.datetime.now(UTC).replace(microsecond=0)
    sid = ssm.start_session(Target=sandbox.node_id("web-1"), Reason="trail test")["SessionId"]
    clients("ssm", user="bob").terminate_session(SessionId=sid)
    keys = sandbox.flush_trail()
    assert keys and all(KEY.match(k) for k in keys), keys
    match = KEY.match(keys[0])
    assert match and match["prefix"] == "org/trails/" and match["account"] == sandbox.account_id
    stamp = file_stamp(keys[0])
    assert stamp is not None and match["date"] == stamp.strftime("%Y/%m/%d")
    body = clients("s3").get_object(Bucket=bucket, Key=keys[0])["Body"].read()
    assert body[:2] == b"\x1f\x8b"
    assert {"Records"} == set(json.loads(gzip.decompress(body)))
    query = EventQuery(since=started - dt.timedelta(minutes=1), until=dt.datetime.now(UTC))
    found = [
        e
        for e in trail_events(clients("s3"), S3Location.parse(f"s3://{bucket}/org/trails"), query)
        if e.session_id == sid
    ]
    assert [(e.event, e.user_name) for e in found] == [
        ("StartSession", "alice"),
        ("TerminateSession", "bob"),
    ]
    assert found[0].reason == "trail test"


def test_history_older_than_90_days_is_in_the_trail_but_not_in_lookup_events(
    sandbox: Sandbox, clients: Clients, unthrottled: Sandbox
) -> None:
    bucket = _bucket()
    sandbox.deliver_trail(bucket)
    old = dt.datetime(2025, 1, 15, 9, 0, tzinfo=UTC)
    raw = records.sessions_history(["old-timer"], old, 40, account=sandbox.account_id)
    raw += [records.other_service(old, account=sandbox.account_id)]
    sandbox.add_history(raw)
    query = EventQuery(since=old - dt.timedelta(hours=1), until=old + dt.timedelta(hours=1))
    stats = TrailStats()
    found = list(trail_events(clients("s3"), S3Location(bucket), query, stats=stats))
    assert len(found) == 40 and stats.records == 41
    assert [e.sort_key for e in found] == sorted(e.sort_key for e in found)
    assert found[0].time == old
    looked_up = list(
        lookup_events(
            clients("cloudtrail", attempts=1), region="us-east-1", query=query, pacer=None
        )
    )
    assert looked_up == []


def test_organization_trail_every_account(sandbox: Sandbox, clients: Clients) -> None:
    bucket = _bucket()
    sandbox.deliver_trail(bucket, organization_id="o-abcdef1234")
    begin = dt.datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    other = "444455556666"
    raw = records.sessions_history(["alice"], begin, 10, account=sandbox.account_id)
    raw += records.sessions_history(["zed"], begin, 10, account=other, region="eu-west-1")
    sandbox.add_history(raw, lookup=False)
    s3 = clients("s3")
    location = S3Location(bucket)
    assert sorted(a for a, _ in account_folders(s3, location)) == sorted(
        [sandbox.account_id, other]
    )
    query = EventQuery(since=begin, until=begin + dt.timedelta(hours=1))
    found = list(trail_events(s3, location, query))
    assert {(e.account, e.region) for e in found} == {
        (sandbox.account_id, "us-east-1"),
        (other, "eu-west-1"),
    }
    assert len(found) == 20
    only = list(trail_events(s3, location, query, accounts=[other], regions=["eu-west-1"]))
    assert len(only) == 10 and {e.account for e in only} == {other}
    with pytest.raises(UsageError, match="none of the accounts asked for"):
        list(trail_events(s3, location, query, accounts=["999999999999"]))
    with pytest.raises(UsageError, match=r"no CloudTrail logs in s3://.+/wrong: expected"):
        list(trail_events(s3, S3Location(bucket, "wrong"), query))


def test_only_the_day_folders_of_the_range_are_listed(sandbox: Sandbox, clients: Clients) -> None:
    bucket = _bucket()
    sandbox.deliver_trail(bucket)
    begin = dt.datetime(2025, 4, 10, 23, 50, tzinfo=UTC)
    sandbox.add_history(
        records.sessions_history(["alice"], begin, 30, account=sandbox.account_id), lookup=False
    )
    s3 = clients("s3")
    listed: list[dict[str, Any]] = []
    s3.meta.events.register(
        "provide-client-params.s3.ListObjectsV2", lambda params, **_: listed.append(dict(params))
    )
    query = EventQuery(since=begin, until=begin + dt.timedelta(minutes=20))
    assert len(list(trail_events(s3, S3Location(bucket), query))) == 30
    days = {p["Prefix"] for p in listed if "Delimiter" not in p}
    base = f"AWSLogs/{sandbox.account_id}/CloudTrail/us-east-1/"
    assert days == {f"{base}2025/04/10/", f"{base}2025/04/11/", f"{base}2025/04/12/"}
    folders = {p["Prefix"] for p in listed if "Delimiter" in p}
    assert folders == {"AWSLogs/", f"AWSLogs/{sandbox.account_id}/CloudTrail/"}


def _put(s3: Any, bucket: str, account: str, stamp: str, events: list[dict[str, Any]]) -> None:
    when = dt.datetime.strptime(stamp, "%Y%m%dT%H%MZ")
    key = (
        f"AWSLogs/{account}/CloudTrail/us-east-1/{when:%Y/%m/%d}/"
        f"{account}_CloudTrail_us-east-1_{stamp}_{uuid.uuid4().hex[:16]}.json.gz"
    )
    body = gzip.compress(json.dumps({"Records": events}).encode())
    s3.put_object(Bucket=bucket, Key=key, Body=body)


def test_day_boundaries_late_files_and_duplicates(sandbox: Sandbox, clients: Clients) -> None:
    bucket = _bucket()
    s3 = clients("s3")
    s3.create_bucket(Bucket=bucket)
    account = sandbox.account_id

    def event(name: str, when: str) -> dict[str, Any]:
        moment = dt.datetime.fromisoformat(when).replace(tzinfo=UTC)
        return records.start(records.session_id(name, 1), moment, account=account)

    before_midnight = event("a", "2025-05-01T23:58:00")
    after_midnight = event("b", "2025-05-02T00:01:00")
    morning = event("c", "2025-05-01T09:00:00")
    very_late = event("d", "2025-05-01T10:00:00")
    next_day = event("e", "2025-05-02T08:00:00")
    _put(s3, bucket, account, "20250501T0905Z", [morning, morning])  # delivered twice
    _put(s3, bucket, account, "20250502T0005Z", [after_midnight, before_midnight])
    _put(s3, bucket, account, "20250502T0805Z", [next_day, very_late])  # 22 hours late
    query = EventQuery(
        since=dt.datetime(2025, 5, 1, tzinfo=UTC), until=dt.datetime(2025, 5, 3, tzinfo=UTC)
    )
    found = [e.user_name for e in trail_events(s3, S3Location(bucket), query)]
    # Each day in order; an event delivered more than an hour late comes with the day it
    # was delivered; a duplicate delivery comes out once.
    assert found == ["c", "a", "d", "b", "e"]
    narrow = EventQuery(
        since=dt.datetime(2025, 5, 1, 23, 0, tzinfo=UTC),
        until=dt.datetime(2025, 5, 1, 23, 59, tzinfo=UTC),
    )
    assert [e.user_name for e in trail_events(s3, S3Location(bucket), narrow)] == ["a"]


def test_trail_locations_and_files() -> None:
    assert S3Location.parse("s3://my-trail/org/x/") == S3Location("my-trail", "org/x")
    assert str(S3Location.parse("s3://my-trail")) == "s3://my-trail"
    for bad in ("my-trail", "https://x/y", "s3://UPPER/x"):
        with pytest.raises(UsageError, match="bad S3 location"):
            S3Location.parse(bad)
    plain = json.dumps({"Records": [records.start_iam_user()]}).encode()
    assert len(parse_trail_file(plain)) == 1
    with pytest.raises(UsageError, match="not a CloudTrail file"):
        parse_trail_file(b'{"records": []}', "x.json.gz")
    assert file_stamp("a/1_CloudTrail_us-east-1_20250101T0000Z_abc.json.gz") == dt.datetime(
        2025, 1, 1, tzinfo=UTC
    )
    assert file_stamp("a/digest.json.gz") is None
