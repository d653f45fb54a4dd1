"""The AWS CLI against the sandbox, pointed at it only by AWS_ENDPOINT_URL and the keys."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

import pytest

from ssmctl.sandbox import Sandbox

from .helpers import Clients

pytestmark = [
    pytest.mark.awscli,
    pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not on PATH"),
]


def _aws(*args: str) -> Any:
    done = subprocess.run(
        ["aws", *args, "--output", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.usefixtures("ssmctl_sandbox_env")
def test_aws_cli_reads_the_sandbox(sandbox: Sandbox, aws: Clients) -> None:
    web = sandbox.node_id("web-1")
    ssm = aws("ssm")
    session_id = ssm.start_session(Target=web)["SessionId"]
    try:
        nodes = _aws("ssm", "describe-instance-information")
        assert web in {n["InstanceId"] for n in nodes["InstanceInformationList"]}
        sessions = _aws("ssm", "describe-sessions", "--state", "Active")
        assert session_id in {s["SessionId"] for s in sessions["Sessions"]}
        events = _aws(
            "cloudtrail",
            "lookup-events",
            "--lookup-attributes",
            "AttributeKey=EventName,AttributeValue=StartSession",
            "--max-results",
            "5",
        )
        records = [json.loads(e["CloudTrailEvent"]) for e in events["Events"]]
        assert session_id in {
            r["responseElements"]["sessionId"] for r in records if r.get("responseElements")
        }
        assert _aws("sts", "get-caller-identity")["Arn"] == sandbox.users["alice"].arn
    finally:
        ssm.terminate_session(SessionId=session_id)
