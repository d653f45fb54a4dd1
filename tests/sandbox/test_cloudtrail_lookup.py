"""CloudTrail: the records Session Manager calls leave, and LookupEvents over them."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest

from ssmctl.sandbox import Sandbox, TrailThrottle
from ssmctl.sandbox.trail import TrailEvent, TrailStore

from .helpers import Clients, error_of

UTC = dt.timezone.utc


@pytest.fixture
def unthrottled(sandbox: Sandbox) -> Iterator[None]:
    """Lift LookupEvents' 2-per-second limit for tests about what it returns."""
    before = sandbox.trail_throttle
    sandbox.trail_throttle = None
    yield
    sandbox.trail_throttle = before


def _trail(aws: Clients, **kwargs: Any) -> Any:
    return aws("cloudtrail", attempts=3, **kwargs)


def _events(cloudtrail: Any, key: str, value: str, **kwargs: Any) -> list[dict[str, Any]]:
    attribute = [{"AttributeKey": key, "AttributeValue": value}]
    pages = cloudtrail.get_paginator("lookup_events").paginate(LookupAttributes=attribute, **kwargs)
    return [event for page in pages for event in page["Events"]]


def _record(event: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(event["CloudTrailEvent"])
    return record


def _by_request(events: list[dict[str, Any]], request_id: str) -> dict[str, Any]:
    matches = [_record(e) for e in events if _record(e)["requestID"] == request_id]
    assert len(matches) == 1, request_id
    return matches[0]


def _seed(
    sandbox: Sandbox, name: str, when: dt.datetime, region: str = "eu-west-1", **extra: Any
) -> str:
    event_id = str(uuid.uuid4())
    sandbox.trail.add(
        {
            "eventVersion": "1.11",
            "userIdentity": {
                "type": "IAMUser",
                "userName": "dave",
                "accessKeyId": "AKIADAVE",
                "accountId": sandbox.account_id,
            },
            "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "ssm.amazonaws.com",
            "eventName": name,
            "awsRegion": region,
            "requestParameters": {"target": "i-0aaaaaaaaaaaaaaaa"},
            "eventID": event_id,
            "readOnly": False,
            "recipientAccountId": sandbox.account_id,
            **extra,
        }
    )
    return event_id


@pytest.mark.usefixtures("unthrottled")
def test_session_calls_leave_records_shaped_like_aws(sandbox: Sandbox, aws: Clients) -> None:
    ssm = aws("ssm")
    target = sandbox.node_id("web-1")
    started = ssm.start_session(
        Target=target,
        DocumentName="AWS-StartPortForwardingSession",
        Parameters={"portNumber": ["8089"], "localPortNumber": ["18089"]},
        Reason="audit me",
    )
    session_id = started["SessionId"]
    resumed = ssm.resume_session(SessionId=session_id)
    ended = ssm.terminate_session(SessionId=session_id)
    cloudtrail = _trail(aws)
    events = _events(cloudtrail, "EventSource", "ssm.amazonaws.com")
    alice = sandbox.users["alice"]

    start = _by_request(events, started["ResponseMetadata"]["RequestId"])
    assert start["eventVersion"] == "1.11" and start["eventSource"] == "ssm.amazonaws.com"
    assert start["eventName"] == "StartSession" and start["awsRegion"] == sandbox.region
    assert start["sourceIPAddress"] == "127.0.0.1" and "Botocore/" in start["userAgent"]
    assert start["userIdentity"]["type"] == "IAMUser"
    assert (
        start["userIdentity"]["arn"] == alice.arn and start["userIdentity"]["userName"] == "alice"
    )
    assert start["userIdentity"]["accessKeyId"] == alice.access_key_id
    assert start["userIdentity"]["accountId"] == sandbox.account_id
    assert start["userIdentity"]["principalId"].startswith("AIDA")
    assert start["requestParameters"] == {
        "target": target,
        "documentName": "AWS-StartPortForwardingSession",
        "parameters": {"portNumber": ["8089"], "localPortNumber": ["18089"]},
        "reason": "audit me",
    }
    assert start["responseElements"] == {
        "sessionId": session_id,
        "tokenValue": "HIDDEN_DUE_TO_SECURITY_REASONS",
        "streamUrl": started["StreamUrl"],
    }
    assert start["readOnly"] is False and start["eventType"] == "AwsApiCall"
    assert start["managementEvent"] is True and start["eventCategory"] == "Management"
    assert start["recipientAccountId"] == sandbox.account_id and uuid.UUID(start["eventID"])
    dt.datetime.strptime(start["eventTime"], "%Y-%m-%dT%H:%M:%SZ")
    assert started["TokenValue"] not in json.dumps(events, default=str)

    resume = _by_request(events, resumed["ResponseMetadata"]["RequestId"])
    assert resume["requestParameters"] == {"sessionId": session_id}
    assert resume["responseElements"]["tokenValue"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    terminate = _by_request(events, ended["ResponseMetadata"]["RequestId"])
    assert terminate["eventName"] == "TerminateSession"
    assert terminate["responseElements"] == {"sessionId": session_id}

    listed = next(e for e in events if _record(e)["eventID"] == start["eventID"])
    assert listed["EventName"] == "StartSession" and listed["Username"] == "alice"
    assert listed["AccessKeyId"] == alice.access_key_id and listed["ReadOnly"] == "false"
    assert {"ResourceType": "AWS::EC2::Instance", "ResourceName": target} in listed["Resources"]
    assert listed["EventTime"].tzinfo is not None


@pytest.mark.usefixtures("unthrottled")
def test_failed_calls_are_recorded_with_the_error(sandbox: Sandbox, aws: Clients) -> None:
    ssm = aws("ssm", user="bob")
    offline = sandbox.node_id("legacy-1")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        ssm.start_session(Target=offline)
    request_id = info.value.response["ResponseMetadata"]["RequestId"]
    events = _events(_trail(aws), "Username", "bob")
    record = _by_request(events, request_id)
    assert record["errorCode"] == "TargetNotConnected"
    assert record["errorMessage"] == f"{offline} is not connected."
    assert record["responseElements"] is None and record["requestParameters"] == {"target": offline}


@pytest.mark.usefixtures("unthrottled")
def test_assumed_role_callers_are_recorded_with_their_session_context(
    sandbox: Sandbox, aws: Clients
) -> None:
    creds = aws("sts").assume_role(RoleArn=sandbox.roles["ops"], RoleSessionName="nguyen")[
        "Credentials"
    ]
    ssm = aws(
        "ssm", keys=(creds["AccessKeyId"], creds["SecretAccessKey"]), token=creds["SessionToken"]
    )
    started = ssm.start_session(Target=sandbox.node_id("bastion"))
    ssm.terminate_session(SessionId=started["SessionId"])
    events = _events(_trail(aws), "AccessKeyId", creds["AccessKeyId"])
    assert {e["EventName"] for e in events} == {"StartSession", "TerminateSession"}
    assert all(e["Username"] == "nguyen" for e in events)
    identity = _by_request(events, started["ResponseMetadata"]["RequestId"])["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["arn"] == f"arn:aws:sts::{sandbox.account_id}:assumed-role/ops/nguyen"
    assert identity["principalId"].startswith("AROA") and identity["principalId"].endswith(
        ":nguyen"
    )
    issuer = identity["sessionContext"]["sessionIssuer"]
    assert issuer == {
        "type": "Role",
        "principalId": identity["principalId"].split(":")[0],
        "arn": sandbox.roles["ops"],
        "accountId": sandbox.account_id,
        "userName": "ops",
    }
    attributes = identity["sessionContext"]["attributes"]
    assert attributes["mfaAuthenticated"] == "false"
    dt.datetime.strptime(attributes["creationDate"], "%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.usefixtures("unthrottled")
def test_lookup_attributes_time_range_order_and_pages(sandbox: Sandbox, aws: Clients) -> None:
    name = f"Probe{uuid.uuid4().hex[:8]}"
    now = dt.datetime.now(UTC).replace(microsecond=0)
    ids = [_seed(sandbox, name, now - dt.timedelta(hours=h)) for h in (1, 2, 3, 4)]
    old = _seed(sandbox, name, now - dt.timedelta(days=91))
    cloudtrail = _trail(aws, region="eu-west-1")
    found = _events(cloudtrail, "EventName", name)
    assert [e["EventId"] for e in found] == ids  # newest first; the 91-day-old one is gone
    assert old not in {e["EventId"] for e in found}
    start, end = now - dt.timedelta(hours=3), now - dt.timedelta(hours=2)
    bounded = _events(cloudtrail, "EventName", name, StartTime=start, EndTime=end)
    assert [e["EventId"] for e in bounded] == ids[1:3]  # both bounds inclusive
    page = cloudtrail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}], MaxResults=3
    )
    assert [e["EventId"] for e in page["Events"]] == ids[:3] and page["NextToken"]
    rest = cloudtrail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}],
        MaxResults=3,
        NextToken=page["NextToken"],
    )
    assert [e["EventId"] for e in rest["Events"]] == ids[3:] and "NextToken" not in rest
    assert [e["EventId"] for e in _events(cloudtrail, "EventId", ids[2])] == [ids[2]]
    by_resource = _events(
        cloudtrail, "ResourceName", "i-0aaaaaaaaaaaaaaaa", StartTime=now - dt.timedelta(hours=5)
    )
    assert set(ids) <= {e["EventId"] for e in by_resource}
    assert _events(cloudtrail, "ReadOnly", "true", StartTime=now - dt.timedelta(hours=5)) == []
    assert {e["EventId"] for e in _events(cloudtrail, "ResourceType", "AWS::EC2::Instance")} >= set(
        ids
    )
    # Other regions have their own history.
    assert _events(_trail(aws, region="ap-southeast-2"), "EventName", name) == []


@pytest.mark.usefixtures("unthrottled")
def test_lookup_errors(aws: Clients) -> None:
    cloudtrail, loose = _trail(aws), aws("cloudtrail", validate=False)
    two = [
        {"AttributeKey": "EventName", "AttributeValue": "StartSession"},
        {"AttributeKey": "Username", "AttributeValue": "alice"},
    ]
    assert (
        error_of(lambda: cloudtrail.lookup_events(LookupAttributes=two))[0]
        == "InvalidLookupAttributesException"
    )
    bad_key = [{"AttributeKey": "Colour", "AttributeValue": "x"}]
    assert (
        error_of(lambda: loose.lookup_events(LookupAttributes=bad_key))[0]
        == "InvalidLookupAttributesException"
    )
    assert (
        error_of(lambda: cloudtrail.lookup_events(MaxResults=51))[0] == "InvalidMaxResultsException"
    )
    assert error_of(lambda: loose.lookup_events(MaxResults=0))[0] == "InvalidMaxResultsException"
    now = dt.datetime.now(UTC)
    backwards = {"StartTime": now, "EndTime": now - dt.timedelta(hours=1)}
    assert error_of(lambda: cloudtrail.lookup_events(**backwards))[0] == "InvalidTimeRangeException"
    assert (
        error_of(lambda: cloudtrail.lookup_events(NextToken="nope"))[0]
        == "InvalidNextTokenException"
    )


def test_lookup_events_is_throttled_at_two_per_second(sandbox: Sandbox, aws: Clients) -> None:
    assert sandbox.trail_throttle == TrailThrottle(rate=2, burst=2)  # the default fleet's, as AWS
    cloudtrail = aws("cloudtrail", region="ap-southeast-2", attempts=1)
    time.sleep(1.1)  # let the bucket fill
    began = time.monotonic()
    outcomes = []
    for _ in range(6):
        try:
            cloudtrail.lookup_events(MaxResults=1)
            outcomes.append("ok")
        except botocore.exceptions.ClientError as exc:
            error = exc.response["Error"]
            outcomes.append(f"{error['Code']}: {error['Message']}")
    elapsed = time.monotonic() - began
    assert outcomes[:2] == ["ok", "ok"]
    assert "ThrottlingException: Rate exceeded" in outcomes
    assert outcomes.count("ok") <= 2 + int(elapsed * 2) + 1
    time.sleep(0.6)
    assert cloudtrail.lookup_events(MaxResults=1)["ResponseMetadata"]["HTTPStatusCode"] == 200
    # Throttling is per region: the default region's bucket is untouched by this burst.
    assert aws("cloudtrail", attempts=10).lookup_events(MaxResults=1)["Events"] is not None


def test_store_api_for_seeding_and_trail_files() -> None:
    store = TrailStore()
    seen: list[TrailEvent] = []
    store.subscribe(seen.append)
    record = {
        "eventID": "e1",
        "eventName": "StartSession",
        "eventTime": "2025-06-11T07:56:17Z",
        "eventSource": "ssm.amazonaws.com",
        "awsRegion": "ap-southeast-2",
        "recipientAccountId": "438465128930",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": "arn:aws:sts::438465128930:assumed-role/Admin/nguyen",
        },
        "requestParameters": {"target": "mi-0123456789abcdef0"},
    }
    event = store.add(record)
    assert seen == [event] and event.username == "nguyen"
    assert event.resources == (("AWS::SSM::ManagedInstance", "mi-0123456789abcdef0"),)
    assert store.events("438465128930", "ap-southeast-2") == [event]
    with pytest.raises(ValueError, match="not a CloudTrail record"):
        store.add({"eventName": "x"})
