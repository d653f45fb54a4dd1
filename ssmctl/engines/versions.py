"""The plugin's version: asking for it, parsing it, and what each version can do."""

from __future__ import annotations

import re
import subprocess

from ssmctl.engines.discovery import install_hint
from ssmctl.errors import PluginError

Version = tuple[int, ...]

MINIMUM_VERSION: Version = (1, 2, 0, 0)
"""Oldest plugin ssmctl runs (a build from source reports exactly this)."""

ENV_HANDOFF_AFTER: Version = (1, 2, 497, 0)
"""Plugins strictly newer than this read the StartSession response from an environment
variable; older ones need it in argv, where the session token shows in `ps`."""

VERSION_TIMEOUT = 10.0
"""Seconds `plugin --version` may take (it does no I/O; a hang means a broken binary)."""

_VERSION_RE = re.compile(r"\b(\d+(?:\.\d+){1,3})\b")


def parse_version(text: str) -> Version:
    """`"1.2.707.0\\n"` -> (1, 2, 707, 0). Raises PluginError when there is no version."""
    match = _VERSION_RE.search(text)
    if match is None:
        shown = text.strip()[:80] or "nothing"
        raise PluginError(f"cannot read the plugin version from its output: {shown!r}")
    return tuple(int(part) for part in match.group(1).split("."))


def format_version(version: Version) -> str:
    """(1, 2, 707, 0) -> "1.2.707.0"."""
    return ".".join(str(part) for part in version)


def version_greater(left: Version, right: Version) -> bool:
    """Dotted numeric comparison, the shorter one padded with zeros (1.2.498 > 1.2.497.0)."""
    width = max(len(left), len(right))
    return _padded(left, width) > _padded(right, width)


def uses_env_handoff(version: Version) -> bool:
    """True when this plugin takes the response from AWS_SSM_START_SESSION_RESPONSE."""
    return version_greater(version, ENV_HANDOFF_AFTER)


def plugin_version(path: str, *, timeout: float = VERSION_TIMEOUT) -> Version:
    """Run `path --version` and return its version.

    Raises PluginError when the binary cannot run, fails, hangs for `timeout` seconds,
    prints no version, or is older than MINIMUM_VERSION (naming both versions and how to
    upgrade).
    """
    try:
        done = subprocess.run(
            [path, "--version"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise PluginError(
            f"{path} --version did not answer within {timeout:g} s; is it the official "
            "session-manager-plugin?"
        ) from None
    except OSError as exc:
        raise PluginError(f"cannot run {path}: {exc.strerror or exc}") from exc
    output = done.stdout.decode("utf-8", "replace")
    if done.returncode != 0:
        detail = (done.stderr.decode("utf-8", "replace") or output).strip()[:200]
        raise PluginError(
            f"{path} --version failed with exit status {done.returncode}"
            + (f": {detail}" if detail else "")
        )
    version = parse_version(output)
    if version_greater(MINIMUM_VERSION, version):
        raise PluginError(
            f"session-manager-plugin {format_version(version)} at {path} is too old; "
            f"ssmctl needs {format_version(MINIMUM_VERSION)} or newer. {install_hint()}"
        )
    return version


def _padded(version: Version, width: int) -> Version:
    return version + (0,) * (width - len(version))
