"""Normalising real-format CloudTrail records."""

from __future__ import annotations

import datetime as dt

import pytest

from ssmctl.audit.events import (
    is_session_event,
    normalise,
    redact,
    session_owner_name,
)
from tests.audit import records


def test_iam_user_start_session() -> None:
    event = normalise(records.start_iam_user())
    assert event.time == dt.datetime(2025, 6, 11, 7, 56, 17, tzinfo=dt.timezone.utc)
    assert (event.event, event.region, event.account) == (
        "StartSession",
        "ap-southeast-2",
        records.ACCOUNT,
    )
    assert (event.user_type, event.user_name) == ("IAMUser", "soclabs-test")
    assert event.session_id == "soclabs-test-t59j8gpq2ta8hniozstbnphqs8"
    assert event.target == "i-04d7335c90a5d6d90"
    assert event.document is None and event.parameters == {} and event.mfa is None
    assert event.source_ip == "154.84.135.88"
    record = event.to_record()
    assert record["time"] == "2025-06-11T07:56:17Z"
    assert "tokenValue" not in str(record) and "streamUrl" not in str(record)


def test_sso_user_with_email_port_forwarding() -> None:
    event = normalise(records.start_sso_port_forward())
    assert event.user_type == "AssumedRole"
    assert event.user_name == "nguyen@example.com"
    assert event.mfa is True
    assert event.document == "AWS-StartPortForwardingSession"
    assert event.parameters == {"localPortNumber": ["8089"], "portNumber": ["18089"]}
    assert event.reason == "debug the API"
    assert session_owner_name(event.session_id or "") == "nguyen@example.com"


@pytest.mark.parametrize(
    ("session_id", "owner"),
    [
        ("alice-0123456789abcdef0", "alice"),  # 17 hex, older
        ("alice-t59j8gpq2ta8hniozstbnphqs8", "alice"),  # 26 chars, 2025+
        ("first.last-name-0123456789abcdef0", "first.last-name"),
        ("nguyen@example.com-abcdefghijklmnopqrstuvwxyz", "nguyen@example.com"),
        ("botocore-session-1700000000-0123456789abcdef0", "botocore-session-1700000000"),
    ],
)
def test_session_ids_split_at_the_last_dash(session_id: str, owner: str) -> None:
    assert session_owner_name(session_id) == owner


def test_terminate_by_another_user() -> None:
    admin = {
        "type": "IAMUser",
        "arn": f"arn:aws:iam::{records.ACCOUNT}:user/admin",
        "userName": "admin",
        "accountId": records.ACCOUNT,
    }
    event = normalise(records.terminate("alice-0123456789abcdef0", admin, "2025-06-11T08:00:00Z"))
    assert (event.event, event.user_name, event.session_id) == (
        "TerminateSession",
        "admin",
        "alice-0123456789abcdef0",
    )
    assert event.target is None


def test_errors_are_kept() -> None:
    record = records.start_iam_user()
    record["errorCode"] = "TargetNotConnected"
    record["errorMessage"] = "i-04d7335c90a5d6d90 is not connected."
    del record["responseElements"]
    event = normalise(record)
    assert event.failed and event.session_id is None
    assert event.error_code == "TargetNotConnected"


def test_other_events_are_not_session_events() -> None:
    record = records.start_iam_user()
    record["eventName"] = "DescribeSessions"
    assert not is_session_event(record)
    with pytest.raises(ValueError, match="not a Session Manager session event"):
        normalise(record)


def test_redact_hides_stream_url_query_and_token() -> None:
    record = records.start_iam_user()
    record["responseElements"]["tokenValue"] = "a-real-token"
    clean = redact(record)
    assert clean["responseElements"]["tokenValue"] == "HIDDEN_DUE_TO_SECURITY_REASONS"
    assert clean["responseElements"]["streamUrl"].endswith("?REDACTED")
    assert "cell-number" not in str(clean)
    assert records.start_iam_user()["responseElements"]["streamUrl"].count("cell-number") == 1
