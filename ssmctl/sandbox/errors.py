"""Errors of the sandbox's Python API (the AWS errors it serves are in aws_errors.py)."""

from __future__ import annotations

from ssmctl.errors import SsmctlError


class SandboxError(SsmctlError):
    """The sandbox cannot do what was asked: a second one in a process, a busy port, a
    non-loopback host, an unknown user or node."""
