"""Finding the official session-manager-plugin, and telling the user how to install it.

Order: `$SSMCTL_PLUGIN`, the config file's `plugin.path`, `PATH`, then the places the
official installers put it. An explicit choice (the variable or the config key) that does
not work is an error naming where it came from, never a silent fall-through: the user
asked for that binary.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import platform
import shutil
from collections.abc import Mapping, Sequence

from ssmctl.errors import PluginError

PLUGIN_NAME = "session-manager-plugin"
ENV_VAR = "SSMCTL_PLUGIN"
CONFIG_KEY = "plugin.path"

# Where the official installers put the binary. The deb/rpm packages and the macOS
# bundle/pkg installers all install to /usr/local/sessionmanagerplugin/bin and may add a
# symlink in /usr/local/bin; Homebrew on Apple silicon uses /opt/homebrew/bin.
POSIX_LOCATIONS: tuple[str, ...] = (
    "/usr/local/sessionmanagerplugin/bin/session-manager-plugin",
    "/usr/local/bin/session-manager-plugin",
    "/usr/bin/session-manager-plugin",
    "/opt/homebrew/bin/session-manager-plugin",
)
WINDOWS_LOCATIONS: tuple[str, ...] = (
    r"C:\Program Files\Amazon\SessionManagerPlugin\bin\session-manager-plugin.exe",
)

_DOWNLOADS = "https://s3.amazonaws.com/session-manager-downloads/plugin/latest"
INSTALL_DOCS = (
    "https://docs.aws.amazon.com/systems-manager/latest/userguide/"
    "session-manager-working-with-install-plugin.html"
)


class PluginSource(enum.Enum):
    """Where a plugin binary was found."""

    ENV = ENV_VAR
    CONFIG = f"the config file's {CONFIG_KEY}"
    PATH = "PATH"
    STANDARD = "a standard install location"


@dataclasses.dataclass(frozen=True)
class PluginLocation:
    """A plugin binary and where it was found."""

    path: str
    source: PluginSource


def standard_locations() -> tuple[str, ...]:
    """The install locations searched after PATH on this operating system."""
    return WINDOWS_LOCATIONS if os.name == "nt" else POSIX_LOCATIONS


def find_plugin(
    env: Mapping[str, str],
    configured: str | None,
    *,
    locations: Sequence[str] | None = None,
) -> PluginLocation:
    """Locate the session-manager-plugin.

    `env` is the environment (`$SSMCTL_PLUGIN`, `PATH`); `configured` is the config file's
    `plugin.path`; `locations` replaces the standard install locations (tests).
    Raises PluginError when an explicit choice is missing or not executable (naming the
    variable or the config key), or when nothing is found (with install instructions).
    """
    explicit = env.get(ENV_VAR)
    if explicit:
        return PluginLocation(_checked(explicit, f"${ENV_VAR}"), PluginSource.ENV)
    if configured:
        where = f"{CONFIG_KEY} in the config file"
        return PluginLocation(_checked(configured, where), PluginSource.CONFIG)

    search_path = env.get("PATH", os.defpath)
    found = shutil.which(PLUGIN_NAME, path=search_path)
    if found:
        return PluginLocation(found, PluginSource.PATH)

    candidates = standard_locations() if locations is None else tuple(locations)
    for candidate in candidates:
        if _is_executable_file(candidate):
            return PluginLocation(candidate, PluginSource.STANDARD)

    looked = ", ".join(("PATH", *(os.path.dirname(c) for c in candidates)))
    raise PluginError(
        f"{PLUGIN_NAME} not found (looked in {looked}). {install_hint()} "
        f"If it is installed elsewhere, set ${ENV_VAR} or {CONFIG_KEY} in the config file "
        "to its full path."
    )


def install_hint(system: str | None = None, machine: str | None = None) -> str:
    """One sentence saying how to install the official plugin on `system` (default: this one).

    `system` and `machine` are as `platform.system()` / `platform.machine()` report them.
    """
    system = platform.system() if system is None else system
    machine = (platform.machine() if machine is None else machine).lower()
    arm = machine in ("arm64", "aarch64")
    if system == "Darwin":
        folder = "mac_arm64" if arm else "mac"
        return (
            "Install it with `brew install --cask session-manager-plugin` or the signed "
            f"installer {_DOWNLOADS}/{folder}/session-manager-plugin.pkg "
            f"(see {INSTALL_DOCS})."
        )
    if system == "Windows":
        return (
            f"Install it with {_DOWNLOADS}/windows/SessionManagerPluginSetup.exe "
            f"(see {INSTALL_DOCS})."
        )
    deb = "ubuntu_arm64" if arm else "ubuntu_64bit"
    rpm = "linux_arm64" if arm else "linux_64bit"
    return (
        f"Install it: Debian/Ubuntu `sudo dpkg -i session-manager-plugin.deb` from "
        f"{_DOWNLOADS}/{deb}/session-manager-plugin.deb; Amazon Linux/RHEL/SUSE "
        f"`sudo yum install -y {_DOWNLOADS}/{rpm}/session-manager-plugin.rpm` "
        f"(see {INSTALL_DOCS})."
    )


def _checked(path: str, where: str) -> str:
    """`path` expanded, if it is an executable file; else PluginError naming `where`."""
    expanded = os.path.expanduser(path)
    if not os.path.exists(expanded):
        raise PluginError(f"{where} points to {expanded}, which does not exist")
    if not _is_executable_file(expanded):
        raise PluginError(f"{where} points to {expanded}, which is not an executable file")
    return expanded


def _is_executable_file(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)
