"""Real-format CloudTrail records (shapes from aws.md section 4), for tests."""

from __future__ import annotations

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
