"""How `ssmctl run` shows results on a terminal: each instance's output as prefixed lines.

    web-1 | a line the command wrote to stdout     (on ssmctl's stdout)
    web-2 ! a line it wrote to stderr              (on ssmctl's stderr)
    web-2 ! [Failed, exit code 1]                  (why an instance did not succeed)

The output is remote programs' output: control characters are made inert (tabs kept)
unless --raw. Machine formats get records instead (see docs/output.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TextIO

from ssmctl.output import Column
from ssmctl.runcommand.results import OUTPUT_LIMIT, SUCCEEDED, InvocationResult
from ssmctl.sanitize import terminal_safe

RUN_COLUMNS = (
    Column("instance_id", "INSTANCE"),
    Column("name", "NAME"),
    Column("status", "STATUS"),
    Column("exit_code", "EXIT"),
)
_RED, _DIM, _RESET = "\x1b[31m", "\x1b[2m", "\x1b[0m"


class LinePrinter:
    """Writes results as prefixed lines, each instance's block as it completes."""

    def __init__(
        self,
        stdout: TextIO,
        stderr: TextIO,
        labels: Sequence[str],
        *,
        raw: bool = False,
        color: bool = False,
    ) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.width = max((len(terminal_safe(label)) for label in labels), default=0)
        self.raw = raw
        self.color = color

    def show(self, result: InvocationResult) -> None:
        label = terminal_safe(result.label).ljust(self.width)
        out_prefix = f"{_DIM}{label} |{_RESET} " if self.color else f"{label} | "
        err_prefix = f"{_RED}{label} !{_RESET} " if self.color else f"{label} ! "
        for line in self._lines(result.stdout):
            self.stdout.write(out_prefix + line + "\n")
        self.stdout.flush()
        for line in self._lines(result.stderr):
            self.stderr.write(err_prefix + line + "\n")
        notes = []
        for stream, truncated in (
            ("stdout", result.stdout_truncated),
            ("stderr", result.stderr_truncated),
        ):
            if truncated:
                notes.append(
                    f"[{stream} truncated: AWS returns only the first {OUTPUT_LIMIT:,} characters]"
                )
        if result.outcome != SUCCEEDED:
            notes.append(f"[{_status(result)}]")
        for note in notes:
            self.stderr.write(err_prefix + note + "\n")
        self.stderr.flush()

    def _lines(self, text: str) -> list[str]:
        if not text:
            return []
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        if self.raw:
            return lines
        return ["\t".join(terminal_safe(part) for part in line.split("\t")) for line in lines]


def _status(result: InvocationResult) -> str:
    if result.outcome == "skipped":
        return f"skipped: {terminal_safe(result.status_details)}"
    words = [result.status]
    if result.status_details not in (result.status, ""):
        words.append(result.status_details)
    text = ", ".join(terminal_safe(w) for w in words)
    if result.exit_code is not None:
        text += f", exit code {result.exit_code}"
    return text
