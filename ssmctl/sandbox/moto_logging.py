"""moto access for session logging: log groups, buckets, transcripts, the preferences document.

Like `moto_access`, these read and write moto's internal backends (not an API); each
function is exercised against the installed moto by tests/sandbox/test_agent_moto_canary.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

PARTITION = "aws"


def _logs(account_id: str, region: str) -> Any:
    from moto.logs.models import logs_backends

    return logs_backends[account_id][region]


def _s3(account_id: str) -> Any:
    from moto.s3.models import s3_backends

    return s3_backends[account_id][PARTITION]


def log_group_exists(account_id: str, region: str, group: str) -> bool:
    return group in _logs(account_id, region).groups


def create_log_group(account_id: str, region: str, group: str) -> None:
    """Create a log group unless it exists."""
    if not log_group_exists(account_id, region, group):
        _logs(account_id, region).create_log_group(group, tags={})


def put_log_events(
    account_id: str, region: str, group: str, stream: str, events: Sequence[tuple[int, str]]
) -> bool:
    """Append `(epoch ms, message)` events to a stream (created if needed); False when
    the group does not exist."""
    backend = _logs(account_id, region)
    if group not in backend.groups:
        return False
    backend.ensure_log_stream(group, stream)
    backend.put_log_events(group, stream, [{"timestamp": t, "message": m} for t, m in events])
    return True


def bucket_exists(account_id: str, bucket: str) -> bool:
    return bucket in _s3(account_id).buckets


def create_bucket(account_id: str, region: str, bucket: str) -> None:
    """Create a bucket in the account unless it has it already."""
    if not bucket_exists(account_id, bucket):
        _s3(account_id).create_bucket(bucket, region)


def put_object(account_id: str, bucket: str, key: str, data: bytes) -> bool:
    """Store an object; False when the account has no such bucket."""
    backend = _s3(account_id)
    if bucket not in backend.buckets:
        return False
    backend.put_object(bucket, key, data)
    return True


def create_session_document(
    account_id: str, region: str, name: str, content: Mapping[str, Any]
) -> None:
    """Create an account-owned Session document (JSON), e.g. the preferences document."""
    from moto.ssm.models import ssm_backends

    ssm_backends[account_id][region].create_document(
        content=json.dumps(content),
        requires=[],
        attachments=[],
        name=name,
        version_name="",
        document_type="Session",
        document_format="JSON",
        target_type="",
        tags=[],
    )
