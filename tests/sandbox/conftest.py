"""Shared helpers for the sandbox tests: real boto3 clients over HTTP to the sandbox.

Everything here is hermetic: AWS_* variables are cleared, the AWS config files are empty,
and every client gets an explicit loopback endpoint and the sandbox's fake keys.
"""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from ssmctl.sandbox import Sandbox

from .helpers import Clients, make_clients


@pytest.fixture(scope="session", autouse=True)
def _hermetic_aws_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    import os

    empty = tmp_path_factory.mktemp("aws") / "empty"
    empty.write_text("", encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        for name in list(os.environ):
            if name.startswith("AWS_"):
                patch.delenv(name)
        patch.setenv("AWS_CONFIG_FILE", str(empty))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
        # Anything that slipped past the endpoint would hit a dead proxy, not AWS.
        patch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
        patch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
        patch.setenv("NO_PROXY", "127.0.0.1,localhost")
        yield


@pytest.fixture(scope="session")
def boto3_session(_hermetic_aws_environment: None) -> boto3.session.Session:
    """One boto3 session, so service models load once for all clients."""
    return boto3.session.Session()


@pytest.fixture
def sandbox(ssmctl_sandbox: Sandbox) -> Sandbox:
    """The session's sandbox, seeded afresh if something reset moto under it."""
    if not ssmctl_sandbox.intact():
        ssmctl_sandbox.reseed()
    return ssmctl_sandbox


@pytest.fixture
def aws(sandbox: Sandbox, boto3_session: boto3.session.Session) -> Clients:
    """`aws("ssm", user="bob", region="eu-west-1", attempts=1)` -> a boto3 client."""

    def credentials(user: str | None) -> tuple[str, str]:
        found = sandbox.users[user or sandbox.default_user]
        return found.access_key_id, found.secret_access_key

    return make_clients(boto3_session, sandbox.endpoint_url, sandbox.region, credentials)
