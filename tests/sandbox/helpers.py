"""Helpers for the sandbox tests (fixtures are in conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions
import pytest
from botocore.config import Config

Clients = Callable[..., Any]


def make_clients(
    session: boto3.session.Session,
    endpoint_url: str,
    default_region: str,
    credentials: Callable[[str | None], tuple[str, str]],
) -> Clients:
    def client(
        service: str,
        *,
        user: str | None = None,
        region: str | None = None,
        attempts: int = 1,
        validate: bool = True,
        keys: tuple[str, str] | None = None,
        token: str | None = None,
    ) -> Any:
        key_id, secret = keys or credentials(user)
        config = Config(
            retries={"mode": "standard", "total_max_attempts": attempts},
            parameter_validation=validate,
            connect_timeout=5,
            read_timeout=30,
        )
        return session.client(
            service,  # type: ignore[call-overload]
            region_name=region or default_region,
            endpoint_url=endpoint_url,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            aws_session_token=token,
            config=config,
        )

    return client


def error_of(call: Callable[..., object], *args: Any, **kwargs: Any) -> tuple[str, str, int]:
    """(code, message, HTTP status) of the ClientError `call(*args, **kwargs)` raises."""
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(*args, **kwargs)
    response: Any = info.value.response
    return (
        str(response["Error"]["Code"]),
        str(response["Error"].get("Message", "")),
        int(response["ResponseMetadata"]["HTTPStatusCode"]),
    )


def write(tmp_path: Path, text: str, name: str = "fleet.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path
