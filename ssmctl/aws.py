"""One factory for boto3 sessions and clients, and the translation of botocore errors.

Clients carry the user agent `ssmctl/<version>` (visible in CloudTrail's userAgent), the
standard retry mode, and the endpoint the user chose. Credentials stay inside botocore:
SSO and assume-role profiles are resolved by it and nothing is ever written to disk.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ssmctl import __version__
from ssmctl.errors import (
    AwsError,
    ConfigError,
    CredentialsError,
    SsmctlError,
    UsageError,
)

if TYPE_CHECKING:
    import boto3

USER_AGENT = f"ssmctl/{__version__}"

# botocore error codes that mean "your credentials are the problem".
_CREDENTIAL_CODES = {
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
    "AuthFailure",
    "InvalidSignatureException",
    "MissingAuthenticationToken",
}


class AwsContext:
    """Creates and caches one boto3 session and its clients (thread-safe).

    `region` is the default region for clients; fan-out code asks for clients per region.
    """

    def __init__(
        self,
        *,
        profile: str | None = None,
        region: str | None = None,
        endpoint_url: str | None = None,
        max_attempts: int = 5,
        call_log: Callable[[str], None] | None = None,
        timeouts: tuple[float, float] = (10, 60),
    ) -> None:
        self.profile = profile
        self._call_log = call_log
        self.endpoint_url = endpoint_url
        self._region = region
        self._max_attempts = max_attempts
        self._timeouts = timeouts
        """(connect, read) seconds: shell completion waits far less than a command."""
        self._lock = threading.Lock()
        self._session: boto3.Session | None = None
        self._clients: dict[tuple[str, str | None, int], Any] = {}
        self._identity: dict[str, str] | None = None

    @property
    def session(self) -> boto3.Session:
        with self._lock:
            return self._session_locked()

    def _session_locked(self) -> boto3.Session:
        if self._session is None:
            import boto3
            import botocore.exceptions

            try:
                self._session = boto3.Session(profile_name=self.profile)
            except botocore.exceptions.ProfileNotFound:
                raise ConfigError(
                    f"AWS profile {self.profile!r} is not defined in your AWS config files"
                ) from None
        return self._session

    @property
    def region(self) -> str:
        """The default region: the chosen one, else the profile's; an error if neither."""
        if self._region:
            return self._region
        region = self.session.region_name
        if not region:
            raise ConfigError(
                "no AWS region: pass --region, set AWS_REGION, or put region: in the "
                "ssmctl config file or your AWS profile"
            )
        self._region = region
        return region

    def client(
        self, service: str, region: str | None = None, *, max_attempts: int | None = None
    ) -> Any:
        """A cached client for `service` in `region` (default: the context's region)."""
        region = region or self.region
        attempts = max_attempts or self._max_attempts
        key = (service, region, attempts)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                from botocore.config import Config

                config = Config(
                    user_agent_extra=USER_AGENT,
                    retries={"mode": "standard", "total_max_attempts": attempts},
                    connect_timeout=self._timeouts[0],
                    read_timeout=self._timeouts[1],
                )
                session = self._session_locked()
                client = session.client(
                    service,  # type: ignore[call-overload]
                    region_name=region,
                    endpoint_url=self.endpoint_url,
                    config=config,
                )
                if self._call_log is not None:
                    _log_calls(client, self._call_log)
                self._clients[key] = client
        return client

    def identity(self) -> dict[str, str]:
        """sts GetCallerIdentity (cached): Account, Arn, UserId."""
        if self._identity is None:
            response = self.client("sts").get_caller_identity()
            self._identity = {k: response[k] for k in ("Account", "Arn", "UserId")}
        return self._identity


def _log_calls(client: Any, log: Callable[[str], None]) -> None:
    """With --debug: one line per AWS call (operation, region, HTTP status, time).

    Only these facts: request and response bodies may hold session tokens.
    """
    region = client.meta.region_name

    def before(context: dict[str, Any], **_: Any) -> None:
        context["ssmctl_started"] = time.monotonic()

    def after(http_response: Any, model: Any, context: dict[str, Any], **_: Any) -> None:
        elapsed = (time.monotonic() - context.get("ssmctl_started", time.monotonic())) * 1000
        status = getattr(http_response, "status_code", "?")
        service = model.service_model.service_name
        log(f"debug: {service}.{model.name} {region}: HTTP {status} ({elapsed:.0f} ms)")

    client.meta.events.register("before-call.*.*", before)
    client.meta.events.register("after-call.*.*", after)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError, else ''."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def translate(exc: BaseException, profile: str | None = None) -> SsmctlError | None:
    """Turn a botocore exception into a one-line domain error (None if not botocore's)."""
    import botocore.exceptions as bce

    login = f"aws sso login --profile {profile}" if profile else "aws sso login"
    if isinstance(exc, bce.ClientError):
        code = error_code(exc)
        message = str(exc.response.get("Error", {}).get("Message", "")).strip()
        operation = str(getattr(exc, "operation_name", ""))
        text = f"{operation}: {code}" + (f": {message}" if message else "")
        if code in _CREDENTIAL_CODES:
            return CredentialsError(
                f"AWS rejected the credentials ({text}); refresh them (e.g. {login}) "
                "or check AWS_PROFILE",
                code,
                operation,
            )
        return AwsError(text, code, operation)
    if isinstance(exc, bce.NoCredentialsError):
        return CredentialsError(
            "no AWS credentials found: use --profile, set AWS_PROFILE, or run aws configure"
        )
    if isinstance(
        exc, (bce.SSOTokenLoadError, bce.UnauthorizedSSOTokenError, bce.TokenRetrievalError)
    ):
        return CredentialsError(f"the AWS SSO session has expired or is missing; run: {login}")
    if isinstance(exc, bce.CredentialRetrievalError):
        return CredentialsError(f"cannot obtain AWS credentials: {_one_line(exc)}")
    if isinstance(exc, bce.ProfileNotFound):
        return ConfigError(f"AWS profile not found: {_one_line(exc)}")
    if isinstance(exc, bce.NoRegionError):
        return ConfigError("no AWS region: pass --region or set AWS_REGION")
    if isinstance(exc, bce.ParamValidationError):
        return UsageError(f"invalid request: {_one_line(exc)}")
    if isinstance(exc, bce.EndpointConnectionError):
        return AwsError(f"cannot reach the AWS endpoint: {_one_line(exc)}")
    if isinstance(exc, (bce.ConnectTimeoutError, bce.ReadTimeoutError)):
        return AwsError(f"the AWS endpoint did not answer in time: {_one_line(exc)}")
    if isinstance(exc, bce.BotoCoreError):
        return AwsError(_one_line(exc))
    return None


def _one_line(exc: BaseException) -> str:
    return re.sub(r"\s+", " ", str(exc)).strip()
