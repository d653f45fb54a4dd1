"""The command groups, imported only when used (start-up stays fast)."""

from __future__ import annotations

# name -> (module, attribute, one-line help shown in `ssmctl --help`)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "completion": ("ssmctl.cli.completion", "completion", "Print a shell completion script."),
    "connect": ("ssmctl.cli.connect", "connect", "Open a session on one instance."),
    "exec": (
        "ssmctl.cli.exec",
        "exec_",
        "Run a command on instances (stdout, stderr, exit status).",
    ),
    "forward": ("ssmctl.cli.forward", "forward", "Forward a local port to an instance or beyond."),
    "proxy": (
        "ssmctl.cli.forward",
        "proxy",
        "Carry stdin/stdout to an instance port (ssh ProxyCommand).",
    ),
    "ssh-config": (
        "ssmctl.cli.ssh_config",
        "ssh_config",
        "Print ssh_config Host blocks for instances.",
    ),
    "instances": ("ssmctl.cli.instances", "instances", "List and resolve instances."),
    "audit": ("ssmctl.cli.audit", "audit", "Audit events, sessions and transcripts; export."),
    "sessions": ("ssmctl.cli.sessions", "sessions", "List and terminate sessions."),
    "sandbox": ("ssmctl.cli.sandbox", "sandbox", "Run a local emulated Session Manager region."),
    "run": ("ssmctl.cli.run", "run", "Run a shell command on many instances (Run Command)."),
    "access": ("ssmctl.cli.access", "access", "Least-privilege IAM policies and access checks."),
    "doctor": ("ssmctl.cli.doctor", "doctor", "Check that sessions can start, and why not."),
    "prefs": ("ssmctl.cli.prefs", "prefs", "Show and change Session Manager preferences."),
}

EXIT_CODES = (
    (0, "success"),
    (1, "AWS or API error (including rejected credentials)"),
    (2, "usage or config error"),
    (3, "target not found, ambiguous, or not online in SSM"),
    (4, "session failed: plugin missing/too old/failed, or the data channel failed"),
    (5, "prefs diff: the preferences differ from the file"),
    (6, "check failed: access check found access denied, or doctor a FAIL"),
    (7, "run: the command failed, timed out or was cancelled on some instance"),
    (8, "run: it succeeded where it ran, but some targets were skipped or unreached"),
    (130, "interrupted"),
    (141, "stdout's reader went away (`| head`): output stopped, sessions ended"),
)


def exit_codes_epilog() -> str:
    """The exit-code table for --help epilogs (Click keeps \\b paragraphs as written)."""
    lines = ["\b", "Exit codes:"]
    lines += [f"  {code:<4} {text}" for code, text in EXIT_CODES]
    return "\n".join(lines)
