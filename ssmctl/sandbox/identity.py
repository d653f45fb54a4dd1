"""Who is calling: the caller behind an access key, as AWS would see and log it.

Access keys are looked up in moto's IAM (user keys) and STS (AssumeRole credentials), so
keys created at run time through the IAM API work too. Signatures are not verified.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Collection

from ssmctl.sandbox import moto_access


class Rejection(enum.Enum):
    """Why a request's credentials were refused."""

    MISSING = "missing"
    INVALID = "invalid"
    EXPIRED = "expired"


@dataclasses.dataclass(frozen=True)
class Caller:
    """An authenticated principal: an IAM user, or a role session from sts AssumeRole."""

    kind: str
    """`IAMUser` or `AssumedRole` (CloudTrail's userIdentity.type)."""
    account_id: str
    arn: str
    principal_id: str
    access_key_id: str
    name: str
    """The IAM user name, or the role session name: what session ids start with."""
    role_arn: str = ""
    role_name: str = ""
    role_id: str = ""
    session_created: dt.datetime | None = None

    def user_identity(self) -> dict[str, object]:
        """CloudTrail's `userIdentity` for this caller."""
        identity: dict[str, object] = {
            "type": self.kind,
            "principalId": self.principal_id,
            "arn": self.arn,
            "accountId": self.account_id,
            "accessKeyId": self.access_key_id,
        }
        if self.kind == "IAMUser":
            identity["userName"] = self.name
            return identity
        created = self.session_created or dt.datetime.now(dt.timezone.utc)
        identity["sessionContext"] = {
            "sessionIssuer": {
                "type": "Role",
                "principalId": self.role_id,
                "arn": self.role_arn,
                "accountId": self.account_id,
                "userName": self.role_name,
            },
            "attributes": {
                "creationDate": created.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "mfaAuthenticated": "false",
            },
        }
        return identity


def resolve(
    account_id: str,
    access_key_id: str,
    session_token: str | None,
    expired_users: Collection[str],
    now: dt.datetime,
) -> Caller | Rejection:
    """The caller an access key (and session token) stands for, or why it is refused."""
    key = moto_access.access_key(account_id, access_key_id)
    if key is None or not key.active:
        return Rejection.INVALID
    if key.role_arn is None:
        return _user(account_id, key, session_token, expired_users)
    return _role_session(account_id, key, key.role_arn, session_token, now)


def _user(
    account_id: str,
    key: moto_access.KeyInfo,
    session_token: str | None,
    expired_users: Collection[str],
) -> Caller | Rejection:
    # Long-term user keys never carry a session token.
    user = moto_access.user_identity(account_id, key.user_name) if key.user_name else None
    if session_token or user is None or key.user_name is None:
        return Rejection.INVALID
    if key.user_name in expired_users:
        return Rejection.EXPIRED
    arn, user_id = user
    return Caller("IAMUser", account_id, arn, user_id, key.access_key_id, key.user_name)


def _role_session(
    account_id: str,
    key: moto_access.KeyInfo,
    role_arn: str,
    session_token: str | None,
    now: dt.datetime,
) -> Caller | Rejection:
    session = moto_access.role_session(account_id, key.access_key_id)
    role = moto_access.role_identity(account_id, role_arn)
    if session is None or role is None or session_token != session.session_token:
        return Rejection.INVALID
    if session.expiration <= now:
        return Rejection.EXPIRED
    role_name, role_id = role
    return Caller(
        kind="AssumedRole",
        account_id=account_id,
        arn=f"arn:aws:sts::{account_id}:assumed-role/{role_name}/{session.session_name}",
        principal_id=f"{role_id}:{session.session_name}",
        access_key_id=key.access_key_id,
        name=session.session_name,
        role_arn=role_arn,
        role_name=role_name,
        role_id=role_id,
        session_created=key.created,
    )
