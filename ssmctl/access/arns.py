"""ARNs of what Session Manager authorises: instances, documents, sessions, principals."""

from __future__ import annotations

import dataclasses
import re

SHELL_DOCUMENT = "SSM-SessionManagerRunShell"
"""The default shell document, which also holds the preferences (owned by the account)."""
PORT_FORWARDING_DOCUMENTS = (
    "AWS-StartPortForwardingSession",
    "AWS-StartPortForwardingSessionToRemoteHost",
)
_DOCUMENT_NAME = re.compile(r"^[a-zA-Z0-9_\-.]{3,128}$")
_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov|\*):(?P<service>[a-z0-9-]+|\*):"
    r"(?P<region>[a-z0-9-]*|\*):(?P<account>\d{12}|aws|\*|):(?P<resource>.+)$"
)


@dataclasses.dataclass(frozen=True)
class Arn:
    partition: str
    service: str
    region: str
    account: str
    resource: str


def parse_arn(text: str) -> Arn | None:
    """The parts of an ARN (wildcards allowed in each), or None if `text` is not one."""
    match = _ARN.match(text)
    if match is None:
        return None
    return Arn(**match.groupdict())


def instance_arn(region: str, account: str, instance_id: str, partition: str = "aws") -> str:
    """`arn:aws:ec2:...:instance/i-...`, or `arn:aws:ssm:...:managed-instance/mi-...`."""
    if instance_id.startswith("mi-"):
        return f"arn:{partition}:ssm:{region}:{account}:managed-instance/{instance_id}"
    return f"arn:{partition}:ec2:{region}:{account}:instance/{instance_id}"


def is_aws_owned(document: str) -> bool:
    return document.startswith("AWS-")


def document_arn(region: str, account: str, document: str, partition: str = "aws") -> str:
    """A Session document's ARN: AWS-owned documents (`AWS-...`) have no account.

    An ARN passes through; anything else must be a document name (ValueError otherwise).
    """
    if document.startswith("arn:"):
        if parse_arn(document) is None or ":document/" not in document:
            raise ValueError(f"{document!r} is not a document ARN")
        return document
    if not _DOCUMENT_NAME.match(document):
        raise ValueError(f"{document!r} is not a document name (3-128 of a-z A-Z 0-9 _ - .)")
    owner = "" if is_aws_owned(document) else account
    return f"arn:{partition}:ssm:{region}:{owner}:document/{document}"


def document_name(document_or_arn: str) -> str:
    return document_or_arn.rsplit("document/", 1)[-1]


def principal_arn(caller_arn: str) -> str:
    """The IAM principal behind a caller: an assumed-role session's role, else itself.

    `arn:aws:sts::1:assumed-role/Name/session` -> `arn:aws:iam::1:role/Name`. The role's
    path is not in the session ARN; `ssmctl.access.check` looks it up when it can.
    """
    match = re.match(r"^arn:([^:]+):sts::(\d{12}):assumed-role/([^/]+)/.+$", caller_arn)
    if match is None:
        return caller_arn
    partition, account, role = match.groups()
    return f"arn:{partition}:iam::{account}:role/{role}"


def principal_kind(arn: str) -> str:
    """user, role, group, assumed-role, or '' (from an IAM or STS ARN)."""
    match = re.match(r"^arn:[^:]+:(?:iam|sts)::[^:]*:([a-z-]+)/", arn)
    return match.group(1) if match else ""


def principal_name(arn: str) -> str:
    """The user or role name (the last path element; for a session, the role)."""
    if principal_kind(arn) == "assumed-role":
        return arn.split("assumed-role/", 1)[1].split("/", 1)[0]
    return arn.rsplit("/", 1)[-1]
