"""What a run asks for: the command line, concurrency and error limits, the timeout."""

from __future__ import annotations

import dataclasses
import re

from ssmctl.errors import UsageError

# AWS's patterns for SendCommand's MaxConcurrency and MaxErrors (at most 7 characters).
_CONCURRENCY = re.compile(r"^([1-9][0-9]*|[1-9][0-9]%|[1-9]%|100%)$")
_ERRORS = re.compile(r"^([1-9][0-9]*|0|[1-9][0-9]%|[0-9]%|100%)$")
MAX_TIMEOUT = 172_800  # executionTimeout of AWS-RunShellScript: 1 s to 48 h
MAX_COMMENT = 100


@dataclasses.dataclass(frozen=True)
class Limit:
    """A MaxConcurrency or MaxErrors value: a number of instances, or a percentage."""

    text: str

    @property
    def is_percentage(self) -> bool:
        return self.text.endswith("%")

    def of(self, total: int, *, at_least_one: bool) -> int:
        """The limit as a number of instances out of `total` (percentages round down)."""
        if not self.is_percentage:
            return int(self.text)
        count = total * int(self.text[:-1]) // 100
        return max(1, count) if at_least_one else count


def parse_limit(text: str, *, option: str, errors: bool) -> Limit:
    """`10` or `10%` as AWS accepts it for MaxErrors (`errors`) or MaxConcurrency."""
    value = text.strip()
    pattern = _ERRORS if errors else _CONCURRENCY
    if len(value) > 7 or not pattern.match(value):
        low = "0" if errors else "1"
        raise UsageError(
            f"{option} must be a number ({low} or more) or a percentage such as 10%; got {text!r}"
        )
    return Limit(value)


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """A validated run request (see `run_options`)."""

    command: str
    max_concurrency: Limit | None = None
    max_errors: Limit | None = None
    timeout: int | None = None
    """Seconds each instance may run the command (AWS's executionTimeout); also bounds
    how long ssmctl waits."""
    comment: str | None = None


def run_options(
    command: str,
    *,
    max_concurrency: str | None = None,
    max_errors: str | None = None,
    timeout: int | None = None,
    comment: str | None = None,
) -> RunOptions:
    """Check a run request as AWS would (UsageError naming the option otherwise)."""
    if not command.strip():
        raise UsageError("no command to run: put it after --, e.g. ssmctl run web-1 -- uptime")
    if timeout is not None and not 1 <= timeout <= MAX_TIMEOUT:
        raise UsageError(f"--timeout must be between 1 and {MAX_TIMEOUT} seconds; got {timeout}")
    if comment is not None and len(comment) > MAX_COMMENT:
        raise UsageError(f"--comment can be at most {MAX_COMMENT} characters")
    return RunOptions(
        command=command,
        max_concurrency=None
        if max_concurrency is None
        else parse_limit(max_concurrency, option="--max-concurrency", errors=False),
        max_errors=None
        if max_errors is None
        else parse_limit(max_errors, option="--max-errors", errors=True),
        timeout=timeout,
        comment=comment,
    )
