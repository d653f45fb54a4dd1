"""Domain errors and the exit codes they map to.

Every error a user can cause or meet carries one clear line of text and an exit status;
the CLI prints the line and exits with the status (the traceback only with --debug).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ssmctl.models import Instance


class ExitStatus(enum.IntEnum):
    """Documented exit codes (docs/exit-codes.md)."""

    OK = 0
    AWS_ERROR = 1
    USAGE = 2
    TARGET = 3
    PLUGIN = 4
    DRIFT = 5
    """`prefs diff`: the preferences differ from the file."""
    CHECK_FAILED = 6
    """`access check`: access denied; `doctor`: a check failed (the verdict, not an error)."""
    RUN_FAILED = 7
    """`run`: the command failed, timed out or was cancelled on at least one instance."""
    RUN_INCOMPLETE = 8
    """`run`: it succeeded wherever it ran, but some targets were skipped or not reached."""
    INTERRUPTED = 130
    READER_GONE = 141
    """The reader of stdout went away (`ssmctl ... | head`): 128 + SIGPIPE."""


class SsmctlError(Exception):
    """Base of every error ssmctl reports to a user."""

    exit_status: ExitStatus = ExitStatus.AWS_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(SsmctlError):
    """Bad arguments: a malformed tag spec, a bad duration, conflicting options."""

    exit_status = ExitStatus.USAGE


class ConfigError(UsageError):
    """The config file (or an AWS profile) is unreadable or invalid."""


class InvalidPolicy(UsageError):
    """An IAM policy document is malformed or too large (`ssmctl access`)."""


class AwsError(SsmctlError):
    """An AWS API call failed."""

    exit_status = ExitStatus.AWS_ERROR

    def __init__(self, message: str, code: str = "", operation: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.operation = operation


class CredentialsError(AwsError):
    """Credentials are missing, expired or rejected."""


class TargetError(SsmctlError):
    """The target matched nothing usable."""

    exit_status = ExitStatus.TARGET


class TargetNotFound(TargetError):
    """No instance matched the target."""


class TargetNotOnline(TargetError):
    """The target exists but SSM cannot reach it now."""

    def __init__(self, message: str, instance: Instance) -> None:
        super().__init__(message)
        self.instance = instance


class AmbiguousTarget(TargetError):
    """A single-target command matched several instances."""

    def __init__(self, message: str, candidates: Sequence[Instance]) -> None:
        super().__init__(message)
        self.candidates = list(candidates)


class PluginError(SsmctlError):
    """The session-manager-plugin is missing, too old, or failed to start."""

    exit_status = ExitStatus.PLUGIN


class SessionError(SsmctlError):
    """A session could not be started or carried on by ssmctl's native engine: the data
    channel is unreachable or refused, nothing came within the start-up timeout, the
    handshake asked for something unsupported (KMS), or the connection was lost and could
    not be resumed. Same exit status as PluginError: the session engine failed."""

    exit_status = ExitStatus.PLUGIN


class Interrupted(SsmctlError):
    """The user interrupted ssmctl (Ctrl-C)."""

    exit_status = ExitStatus.INTERRUPTED


class AuditIncomplete(AwsError):
    """An audit source kept failing on one page: the audit stops rather than skip events."""


class TranscriptNotFound(SsmctlError):
    """No session transcript where the preferences, DescribeSessions or the options point."""

    exit_status = ExitStatus.AWS_ERROR
