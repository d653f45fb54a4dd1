"""Real-format CloudTrail records (shapes from aws.md section 4), for tests."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import uuid
from collections.abc import Iterator
from typing import Any

ACCOUNT = "438465128930"


def start_iam_user() -> dict[str, Any]:
    return {
        "eventVersion": "1.11",
        "eventSource": "ssm.amazonaws.com",
        "eventName": "StartSession",
        "eventTime": "2025-06-11T07:56:17Z",
        "awsRegion": "ap-southeast-2",
        "sourceIPAddress": "154.84.135.88",
        "userAgent": "aws-cli/2.27.0 md/command#ssm.start-session",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAWCZC6DSRQ5EXAMPLE",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/soclabs-test",
            "accountId": ACCOUNT,
            "accessKeyId": "AKIAWCZC6DSREXAMPLE1",
            "userName": "soclabs-test",
        },
        "requestParameters": {"target": "i-04d7335c90a5d6d90"},
        "responseElements": {
            "sessionId": "soclabs-test-t59j8gpq2ta8hniozstbnphqs8",
            "streamUrl": "wss://ssmmessages.ap-southeast-2.amazonaws.com/v1/data-channel/"
            "soclabs-test-t59j8gpq2ta8hniozstbnphqs8?role=publish_subscribe&cell-number=AAEA",
            "tokenValue": "HIDDEN_DUE_TO_SECURITY_REASONS",
        },
        "requestID": "0b1e2f3a-0000-4000-8000-000000000001",
        "eventID": "4c7f3fc2-0000-4000-8000-000000000001",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "eventCategory": "Management",
        "recipientAccountId": ACCOUNT,
    }


def start_sso_port_forward() -> dict[str, Any]:
    return {
        "eventVersion": "1.11",
        "eventSource": "ssm.amazonaws.com",
        "eventName": "StartSession",
        "eventTime": "2025-06-12T10:00:01Z",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "203.0.113.9",
        "userAgent": "Boto3/1.38.0 ssmctl/0.1.0",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAWCZC6DSRXEXAMPLE:nguyen@example.com",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/"
            "AWSReservedSSO_AdministratorAccess_0123456789abcdef/nguyen@example.com",
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAWCZC6DSREXAMPLE2",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAWCZC6DSRXEXAMPLE",
                    "arn": f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/"
                    "AWSReservedSSO_AdministratorAccess_0123456789abcdef",
                    "accountId": ACCOUNT,
                    "userName": "AWSReservedSSO_AdministratorAccess_0123456789abcdef",
                },
                "attributes": {"creationDate": "2025-06-12T09:58:00Z", "mfaAuthenticated": "true"},
            },
        },
        "requestParameters": {
            "target": "i-0123456789abcdef0",
            "documentName": "AWS-StartPortForwardingSession",
            "parameters": {"localPortNumber": ["8089"], "portNumber": ["18089"]},
            "reason": "debug the API",
        },
        "responseElements": {
            "sessionId": "nguyen@example.com-0123456789abcdef0",
            "streamUrl": "wss://ssmmessages.eu-west-1.amazonaws.com/v1/data-channel/"
            "nguyen@example.com-0123456789abcdef0?role=publish_subscribe&cell-number=XYZ",
            "tokenValue": "HIDDEN_DUE_TO_SECURITY_REASONS",
        },
        "requestID": "0b1e2f3a-0000-4000-8000-000000000002",
        "eventID": "4c7f3fc2-0000-4000-8000-000000000002",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "eventCategory": "Management",
        "recipientAccountId": ACCOUNT,
    }


def terminate(session_id: str, by: dict[str, Any], when: str) -> dict[str, Any]:
    record = start_iam_user()
    record.update(
        eventName="TerminateSession",
        eventTime=when,
        userIdentity=by,
        requestParameters={"sessionId": session_id},
        responseElements={"sessionId": session_id},
        eventID="4c7f3fc2-0000-4000-8000-000000000003",
    )
    return record


# --- builders: records shaped like the ones above, for any user, time and session ------


def iam_user(name: str, account: str = ACCOUNT) -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": "AIDA" + name.upper().replace("-", "")[:12].ljust(12, "X"),
        "arn": f"arn:aws:iam::{account}:user/{name}",
        "accountId": account,
        "accessKeyId": "AKIA" + name.upper().replace("-", "")[:12].ljust(12, "X"),
        "userName": name,
    }


def sso_user(email: str, account: str = ACCOUNT, *, mfa: bool = True) -> dict[str, Any]:
    role = "AWSReservedSSO_AdministratorAccess_0123456789abcdef"
    return {
        "type": "AssumedRole",
        "principalId": f"AROAWCZC6DSRXEXAMPLE:{email}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{email}",
        "accountId": account,
        "accessKeyId": "ASIAWCZC6DSREXAMPLE2",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAWCZC6DSRXEXAMPLE",
                "arn": f"arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/{role}",
                "accountId": account,
                "userName": role,
            },
            "attributes": {
                "creationDate": "2025-06-12T09:58:00Z",
                "mfaAuthenticated": "true" if mfa else "false",
            },
        },
    }


def session_id(owner: str, n: int, *, style: str = "26") -> str:
    """`<owner>-<suffix>`: 26 characters [a-z0-9] (2025+) or 17 lowercase hex (older)."""
    if style == "17":
        return f"{owner}-{n:017x}"
    return f"{owner}-{n:026d}".replace("0", "a", 3)


def _base(
    name: str,
    when: dt.datetime,
    identity: dict[str, Any],
    region: str,
    event_id: str | None,
) -> dict[str, Any]:
    return {
        "eventVersion": "1.11",
        "userIdentity": identity,
        "eventTime": when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "ssm.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.27.0 md/command#ssm.start-session",
        "requestID": str(uuid.uuid4()),
        "eventID": event_id or str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "eventCategory": "Management",
        "recipientAccountId": identity.get("accountId", ACCOUNT),
    }


def start(
    sid: str,
    when: dt.datetime,
    *,
    identity: dict[str, Any] | None = None,
    target: str = "i-0123456789abcdef0",
    region: str = "us-east-1",
    document: str | None = None,
    parameters: dict[str, list[str]] | None = None,
    reason: str | None = None,
    event_id: str | None = None,
    account: str = ACCOUNT,
    **extra: Any,
) -> dict[str, Any]:
    identity = identity or iam_user(sid.rsplit("-", 1)[0], account)
    record = _base("StartSession", when, identity, region, event_id)
    request: dict[str, Any] = {"target": target}
    if document:
        request["documentName"] = document
    if parameters:
        request["parameters"] = parameters
    if reason is not None:
        request["reason"] = reason
    record["requestParameters"] = request
    record["responseElements"] = {
        "sessionId": sid,
        "streamUrl": f"wss://ssmmessages.{region}.amazonaws.com/v1/data-channel/{sid}"
        "?role=publish_subscribe&cell-number=AAEAAbcdef",
        "tokenValue": "HIDDEN_DUE_TO_SECURITY_REASONS",
    }
    record.update(extra)
    return record


def follow_up(
    name: str,
    sid: str,
    when: dt.datetime,
    *,
    identity: dict[str, Any] | None = None,
    region: str = "us-east-1",
    event_id: str | None = None,
    account: str = ACCOUNT,
) -> dict[str, Any]:
    """A ResumeSession or TerminateSession record."""
    identity = identity or iam_user(sid.rsplit("-", 1)[0], account)
    record = _base(name, when, identity, region, event_id)
    record["requestParameters"] = {"sessionId": sid}
    record["responseElements"] = {"sessionId": sid}
    if name == "ResumeSession":
        record["responseElements"].update(
            streamUrl=f"wss://ssmmessages.{region}.amazonaws.com/v1/data-channel/{sid}"
            "?role=publish_subscribe&cell-number=AAEAAbcdef",
            tokenValue="HIDDEN_DUE_TO_SECURITY_REASONS",
        )
    return record


def other_service(
    when: dt.datetime, region: str = "us-east-1", account: str = ACCOUNT
) -> dict[str, Any]:
    """A record of another service, as trail files hold them (never a session event)."""
    record = _base("DescribeInstances", when, iam_user("robot", account), region, None)
    record.update(eventSource="ec2.amazonaws.com", readOnly=True)
    return record


def sessions_history(
    users: list[str],
    begin: dt.datetime,
    count: int,
    *,
    region: str = "us-east-1",
    step: dt.timedelta = dt.timedelta(seconds=7),
    account: str = ACCOUNT,
) -> list[dict[str, Any]]:
    """`count` records: sessions started, some resumed, most terminated, in time order."""
    out: list[dict[str, Any]] = []
    when = begin
    n = 0
    while len(out) < count:
        user = users[n % len(users)]
        sid = session_id(user, n)
        kw: dict[str, Any] = {"region": region, "account": account}
        out.append(start(sid, when, target=f"i-{n % 97:017x}", **kw))
        if n % 5 == 0 and len(out) < count:
            out.append(follow_up("ResumeSession", sid, when + step / 3, **kw))
        if n % 4 != 3 and len(out) < count:
            out.append(follow_up("TerminateSession", sid, when + step / 2, **kw))
        when += step
        n += 1
    return out


def trail_files(
    account: str,
    begin: dt.datetime,
    count: int,
    *,
    per_file: int = 1000,
    step: dt.timedelta = dt.timedelta(seconds=2),
    noise: int = 10,
) -> Iterator[tuple[str, bytes]]:
    """(key, gzipped body) of trail files holding `count` session events (Start, Terminate,
    sometimes Resume), one every `step`, plus one other service's record per `noise`
    events. Records are real-format (the template is `start()`'s), written as text from
    the template so that 100,000 take a second or two."""
    template = start(session_id("bulk", 0), begin, account=account)
    template.update(eventName="@NAME@", eventTime="@TIME@", eventID="@ID@", requestID="@ID@")
    template["responseElements"] = {"sessionId": "@SESSION@"}
    text = json.dumps(template, separators=(",", ":"))
    noisy = text.replace('"ssm.amazonaws.com"', '"ec2.amazonaws.com"', 1)
    names = ("StartSession", "TerminateSession", "StartSession", "ResumeSession")
    batch: list[str] = []
    for n in range(count):
        when = begin + step * n
        values = {
            "@NAME@": names[n % 4],
            "@TIME@": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "@ID@": f"{n:08x}-0000-4000-8000-{count:012x}",
            "@SESSION@": f"bulk-{n:026d}",
        }
        for source in (text, noisy) if noise and n % noise == 0 else (text,):
            record = source
            for marker, value in values.items():
                record = record.replace(marker, value)
            batch.append(record)
        if len(batch) >= per_file or n == count - 1:
            stamp = when + dt.timedelta(minutes=5)
            key = (
                f"AWSLogs/{account}/CloudTrail/us-east-1/{stamp:%Y/%m/%d}/"
                f"{account}_CloudTrail_us-east-1_{stamp:%Y%m%dT%H%MZ}_{n:016x}.json.gz"
            )
            body = '{"Records":[' + ",".join(batch) + "]}"
            yield key, gzip.compress(body.encode(), compresslevel=1)
            batch = []
