"""The YAML config file: loading, validation (errors name file and line), aliases.

Every key is documented in config.example.yaml; tests/test_config.py checks that the
example file documents exactly the keys this module accepts.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ssmctl.errors import ConfigError
from ssmctl.yaml_nodes import NodeBase, compose

OUTPUT_FORMATS = ("table", "json", "jsonl", "yaml", "csv", "text")
ENGINES = ("auto", "native", "plugin")
COLOR_MODES = ("auto", "always", "never")


@dataclasses.dataclass(frozen=True)
class Alias:
    """A named target; it may carry where and how to connect."""

    name: str
    target: str
    profile: str | None = None
    region: str | None = None
    document: str | None = None
    parameters: Mapping[str, list[str]] = dataclasses.field(default_factory=dict)
    reason: str | None = None


@dataclasses.dataclass(frozen=True)
class Config:
    """The validated config file. Every field is optional; None means "not set"."""

    path: Path | None = None
    profile: str | None = None
    region: str | None = None
    regions: tuple[str, ...] = ()
    endpoint_url: str | None = None
    output: str | None = None
    color: str | None = None
    debug: bool | None = None
    plugin_path: str | None = None
    startup_timeout: float | None = None
    engine: str | None = None
    """connect.engine: auto, native or plugin (see ssmctl.engines.choice)."""
    document: str | None = None
    parameters: Mapping[str, list[str]] = dataclasses.field(default_factory=dict)
    reason: str | None = None
    aliases: Mapping[str, Alias] = dataclasses.field(default_factory=dict)

    def alias(self, name: str) -> Alias:
        """The alias `name` (with or without its leading @)."""
        key = name[1:] if name.startswith("@") else name
        try:
            return self.aliases[key]
        except KeyError:
            known = ", ".join(f"@{k}" for k in sorted(self.aliases)) or "none defined"
            where = f" in {self.path}" if self.path else ""
            raise ConfigError(f"unknown alias @{key}{where} (known: {known})") from None


def default_config_path(env: Mapping[str, str]) -> Path:
    """`$SSMCTL_CONFIG`, else `$XDG_CONFIG_HOME/ssmctl/config.yaml`, else ~/.config/..."""
    if env.get("SSMCTL_CONFIG"):
        return Path(env["SSMCTL_CONFIG"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "ssmctl" / "config.yaml"


def load_config(path: Path, *, required: bool) -> Config:
    """Read and validate the config file at `path`.

    A missing file is an empty config unless `required` (the user named it explicitly).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if required:
            raise ConfigError(f"config file {path} does not exist") from None
        return Config()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> Config:
    root = compose(text, path, column=True)
    if root is None:
        return Config(path=path)
    reader = _Reader(path)
    top = reader.mapping(root, "")
    values: dict[str, Any] = {"path": path}
    for key, (key_node, node) in top.items():
        spec = _TOP_LEVEL.get(key)
        if spec is None:
            reader.unknown(key_node, key, _TOP_LEVEL)
        else:
            spec(reader, node, key, values)
    return Config(**values)


class _Reader(NodeBase):
    """Turns YAML nodes into checked Python values, reporting file:line on errors."""

    def unknown(self, node: Any, key: str, known: Mapping[str, Any], where: str = "") -> None:
        names = ", ".join(sorted(known))
        raise self.fail(node, f"unknown key '{where}{key}' (expected one of: {names})")

    def mapping(self, node: Any, where: str) -> dict[str, tuple[Any, Any]]:
        import yaml

        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{where or 'the config file'} must be a mapping of keys")
        out: dict[str, tuple[Any, Any]] = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node)
            if not isinstance(key, str):
                raise self.fail(key_node, f"keys must be text, got {key!r}")
            if key in out:
                raise self.fail(key_node, f"duplicate key {where}{key!r}")
            out[key] = (key_node, value_node)
        return out

    def string(self, node: Any, where: str, choices: tuple[str, ...] = ()) -> str | None:
        value = self.scalar(node)
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise self.fail(node, f"{where} must be a non-empty string")
        if choices and value not in choices:
            raise self.fail(node, f"{where} must be one of {', '.join(choices)}; got {value!r}")
        return value

    def boolean(self, node: Any, where: str) -> bool | None:
        value = self.scalar(node)
        if value is not None and not isinstance(value, bool):
            raise self.fail(node, f"{where} must be true or false")
        return value

    def number(self, node: Any, where: str, low: float, high: float) -> float | None:
        value = self.scalar(node)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(node, f"{where} must be a number")
        if not low <= value <= high:
            raise self.fail(node, f"{where} must be between {low:g} and {high:g}")
        return float(value)

    def string_list(self, node: Any, where: str) -> tuple[str, ...]:
        import yaml

        if isinstance(node, yaml.ScalarNode):
            text = self.string(node, where)
            return tuple(p.strip() for p in text.split(",") if p.strip()) if text else ()
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{where} must be a list of strings")
        items = [self.string(item, f"{where} entries") for item in node.value]
        return tuple(item for item in items if item)

    def parameters(self, node: Any, where: str) -> dict[str, list[str]]:
        import yaml

        if self.scalar(node) is None:
            return {}
        out: dict[str, list[str]] = {}
        for key, (_, value_node) in self.mapping(node, where).items():
            if isinstance(value_node, yaml.SequenceNode):
                values = [self.scalar(v) for v in value_node.value]
            else:
                values = [self.scalar(value_node)]
            if any(isinstance(v, (dict, list)) or v is None for v in values):
                raise self.fail(value_node, f"{where}.{key} must be a string or a list of strings")
            out[key] = [_param_text(v) for v in values]
        return out


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_Spec = Callable[[_Reader, Any, str, dict[str, Any]], None]


def _str_key(field: str, choices: tuple[str, ...] = ()) -> _Spec:
    def spec(reader: _Reader, node: Any, key: str, values: dict[str, Any]) -> None:
        values[field] = reader.string(node, key, choices)

    return spec


def _regions(reader: _Reader, node: Any, key: str, values: dict[str, Any]) -> None:
    values["regions"] = reader.string_list(node, key)


def _debug(reader: _Reader, node: Any, key: str, values: dict[str, Any]) -> None:
    values["debug"] = reader.boolean(node, key)


def _plugin(reader: _Reader, node: Any, key: str, values: dict[str, Any]) -> None:
    if reader.scalar(node) is None:
        return
    for sub, (key_node, sub_node) in reader.mapping(node, "plugin").items():
        if sub == "path":
            path = reader.string(sub_node, "plugin.path")
            values["plugin_path"] = os.path.expanduser(path) if path else None
        elif sub == "startup_timeout":
            values["startup_timeout"] = reader.number(sub_node, "plugin.startup_timeout", 0, 3600)
        else:
            reader.unknown(key_node, sub, {"path": 0, "startup_timeout": 0}, "plugin.")


_SESSION_KEYS = {"document": 0, "parameters": 0, "reason": 0, "engine": 0}


def _connect(reader: _Reader, node: Any, key: str, values: dict[str, Any]) -> None:
    if reader.scalar(node) is None:
        return
    for sub, (key_node, sub_node) in reader.mapping(node, "connect").items():
        if sub == "document":
            values["document"] = reader.string(sub_node, "connect.document")
        elif sub == "parameters":
            values["parameters"] = reader.parameters(sub_node, "connect.parameters")
        elif sub == "reason":
            values["reason"] = _reason(reader, sub_node, "connect.reason")
        elif sub == "engine":
            values["engine"] = reader.string(sub_node, "connect.engine", ENGINES)
        else:
            reader.unknown(key_node, sub, _SESSION_KEYS, "connect.")


def _reason(reader: _Reader, node: Any, where: str) -> str | None:
    reason = reader.string(node, where)
    if reason is not None and len(reason) > 256:
        raise reader.fail(node, f"{where} is longer than 256 characters (the AWS limit)")
    return reason


_ALIAS_KEYS = {
    "target": 0,
    "profile": 0,
    "region": 0,
    "document": 0,
    "parameters": 0,
    "reason": 0,
}


def _aliases(reader: _Reader, node: Any, key: str, values: dict[str, Any]) -> None:
    import yaml

    if reader.scalar(node) is None:
        return
    aliases: dict[str, Alias] = {}
    for name, (name_node, body) in reader.mapping(node, "aliases").items():
        if not name or name.startswith("@") or any(c.isspace() for c in name):
            raise reader.fail(name_node, f"alias name {name!r} must be one word without '@'")
        where = f"aliases.{name}"
        if isinstance(body, yaml.ScalarNode):
            target = reader.string(body, where)
            if target is None:
                raise reader.fail(body, f"{where} needs a target")
            aliases[name] = Alias(name=name, target=target)
            continue
        fields: dict[str, Any] = {"name": name}
        for sub, (key_node, sub_node) in reader.mapping(body, where).items():
            if sub == "parameters":
                fields["parameters"] = reader.parameters(sub_node, f"{where}.parameters")
            elif sub == "reason":
                fields["reason"] = _reason(reader, sub_node, f"{where}.reason")
            elif sub in _ALIAS_KEYS:
                fields[sub] = reader.string(sub_node, f"{where}.{sub}")
            else:
                reader.unknown(key_node, sub, _ALIAS_KEYS, f"{where}.")
        if not fields.get("target"):
            raise reader.fail(body, f"{where} needs a target")
        if str(fields["target"]).startswith("@"):
            raise reader.fail(body, f"{where}.target cannot be another alias")
        aliases[name] = Alias(**fields)
    values["aliases"] = aliases


_TOP_LEVEL: dict[str, _Spec] = {
    "profile": _str_key("profile"),
    "region": _str_key("region"),
    "regions": _regions,
    "endpoint_url": _str_key("endpoint_url"),
    "output": _str_key("output", OUTPUT_FORMATS),
    "color": _str_key("color", COLOR_MODES),
    "debug": _debug,
    "plugin": _plugin,
    "connect": _connect,
    "aliases": _aliases,
}

DOCUMENTED_KEYS = (
    *sorted(k for k in _TOP_LEVEL if k not in ("plugin", "connect", "aliases")),
    *(f"plugin.{k}" for k in ("path", "startup_timeout")),
    *(f"connect.{k}" for k in sorted(_SESSION_KEYS)),
    *(f"aliases.<name>.{k}" for k in sorted(_ALIAS_KEYS)),
)
