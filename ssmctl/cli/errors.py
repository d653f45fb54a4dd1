"""The one place where exceptions become a message on stderr and an exit code."""

from __future__ import annotations

import sys
import traceback
from typing import IO

import click

from ssmctl.errors import AmbiguousTarget, ExitStatus, SsmctlError
from ssmctl.sanitize import terminal_safe


def report(exc: BaseException, *, debug: bool, stderr: IO[str] | None = None) -> int:
    """Print what went wrong (one line, or the traceback with --debug); return the code."""
    err = stderr or sys.stderr
    if isinstance(exc, click.exceptions.Exit):
        return exc.exit_code
    if isinstance(exc, click.exceptions.Abort | KeyboardInterrupt):
        err.write("\nssmctl: interrupted\n")
        return ExitStatus.INTERRUPTED
    if isinstance(exc, click.ClickException):
        if debug:
            traceback.print_exception(exc, file=err)
        exc.show(file=err)
        return exc.exit_code
    error = _as_domain_error(exc)
    if error is None:
        if debug:
            traceback.print_exception(exc, file=err)
        err.write(
            f"ssmctl: internal error: {terminal_safe(type(exc).__name__)}: "
            f"{terminal_safe(exc)} (run with --debug for the traceback)\n"
        )
        return ExitStatus.AWS_ERROR
    if debug:
        traceback.print_exception(exc, file=err)
    err.write(f"ssmctl: error: {terminal_safe(error.message)}\n")
    if isinstance(error, AmbiguousTarget):
        _candidates(error, err)
    err.flush()
    return int(error.exit_status)


def _as_domain_error(exc: BaseException) -> SsmctlError | None:
    if isinstance(exc, SsmctlError):
        return exc
    if type(exc).__module__.startswith("botocore"):
        from ssmctl.aws import translate

        return translate(exc)
    if isinstance(exc, BrokenPipeError):
        return None
    return None


def _candidates(error: AmbiguousTarget, err: IO[str]) -> None:
    rows = [("INSTANCE", "NAME", "STATE", "PING")]
    rows += [
        (
            i.instance_id,
            i.name or "-",
            i.state or ("hybrid" if i.is_hybrid else "-"),
            i.ping_status or "not in SSM",
        )
        for i in error.candidates
    ]
    widths = [max(len(terminal_safe(row[n])) for row in rows) for n in range(4)]
    for row in rows:
        cells = [
            terminal_safe(value).ljust(width) for value, width in zip(row, widths, strict=True)
        ]
        err.write("  " + "  ".join(cells).rstrip() + "\n")


def failure_text(error: BaseException | None) -> str:
    """One line for an error that is reported but not fatal (one region of several)."""
    domain = _as_domain_error(error) if error is not None else None
    if domain is not None:
        return terminal_safe(domain.message)
    return terminal_safe(f"{type(error).__name__}: {error}")
