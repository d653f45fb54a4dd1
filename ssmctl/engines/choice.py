"""Which engine carries a session: the official plugin, the native client, or auto.

- `plugin`: the session-manager-plugin; missing or too old is an error (exit 4).
- `native`: ssmctl's own client (ssmctl.engines.native); no plugin needed.
- `auto` (the default): the plugin when one is installed and usable, else the native
  engine with a one-line notice saying why. A plugin named explicitly ($SSMCTL_PLUGIN or
  the config file's plugin.path) that does not work is still an error: the user asked
  for that binary.

The setting comes from --engine, else $SSMCTL_ENGINE, else the config file's
`connect.engine`, else `auto`.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping

from ssmctl.config import ENGINES
from ssmctl.errors import PluginError, UsageError

ENV_VAR = "SSMCTL_ENGINE"


class EngineKind(enum.Enum):
    PLUGIN = "plugin"
    NATIVE = "native"


@dataclasses.dataclass(frozen=True)
class EngineChoice:
    """The engine to use; `plugin` is set for the plugin engine, `notice` for auto's fallback."""

    kind: EngineKind
    plugin: object | None = None
    """An ssmctl.engines.plugin.Plugin (located and version-checked)."""
    notice: str | None = None


def engine_setting(flag: str | None, env: Mapping[str, str], configured: str | None) -> str:
    """--engine, else $SSMCTL_ENGINE, else the config file's connect.engine, else auto."""
    value = flag or env.get(ENV_VAR) or configured or "auto"
    value = value.strip().lower()
    if value not in ENGINES:
        raise UsageError(
            f"unknown engine {value!r} (from ${ENV_VAR} or the config file); "
            f"expected one of {', '.join(ENGINES)}"
        )
    return value


def choose_engine(setting: str, env: Mapping[str, str], plugin_path: str | None) -> EngineChoice:
    """Resolve `setting` (see engine_setting) to an engine; PluginError for `plugin`
    without a usable plugin, or for a broken explicitly named plugin under `auto`."""
    if setting == "native":
        return EngineChoice(EngineKind.NATIVE)
    from ssmctl.engines.discovery import ENV_VAR as PLUGIN_VAR
    from ssmctl.engines.plugin import locate_plugin

    try:
        plugin = locate_plugin(env, plugin_path)
    except PluginError as exc:
        explicit = bool(env.get(PLUGIN_VAR) or plugin_path)
        if setting == "plugin" or explicit:
            raise
        return EngineChoice(
            EngineKind.NATIVE,
            notice=f"ssmctl: using the native engine ({_first_sentence(exc.message)})",
        )
    return EngineChoice(EngineKind.PLUGIN, plugin=plugin)


def _first_sentence(text: str) -> str:
    """ "session-manager-plugin not found (looked in ...)." without the install hint."""
    head = text.split(". ", 1)[0].rstrip(".")
    return head[:160] + ("..." if len(head) > 160 else "")
