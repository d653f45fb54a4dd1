"""`prefs.yaml`: Session Manager preferences as code (format in docs/prefs.md).

    preferences:              # for every selected region
      idleSessionTimeout: 30
      s3BucketName: audit-logs
      shellProfile:
        linux: exec bash -l
    regions:                  # optional: per-region overrides of `preferences`
      eu-west-1:
        s3BucketName: audit-logs-eu

The file states the whole preferences: an input it does not mention takes AWS's default.
Every error names the file and line.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from ssmctl.errors import ConfigError
from ssmctl.prefs import BY_KEY, DEFAULTS, Input, PrefsValueError, Value, parse_value
from ssmctl.yaml_nodes import NodeBase, compose

_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_TOP = ("preferences", "regions")
_FILE_KEYS = tuple(dict.fromkeys(k.split(".", 1)[0] for k in BY_KEY))
_PROFILES = ("linux", "windows")


@dataclasses.dataclass(frozen=True)
class PrefsFile:
    """A validated prefs.yaml."""

    path: Path
    preferences: dict[str, Value]
    regions: dict[str, dict[str, Value]]
    lines: dict[tuple[str, str], int]
    """(region or "", input key) -> the line that sets it."""

    def values_for(self, region: str) -> dict[str, Value]:
        """The whole preferences for `region`: defaults, then the file's, then overrides."""
        return {**DEFAULTS, **self.preferences, **self.regions.get(region, {})}

    def where(self, region: str, key: str) -> str:
        """`file:line` of the value `region` gets for `key` (the file alone if unset)."""
        line = self.lines.get((region, key)) or self.lines.get(("", key))
        return f"{self.path}:{line}" if line else str(self.path)


def load_prefs_file(path: Path) -> PrefsFile:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    return parse_prefs_file(text, path)


def parse_prefs_file(text: str, path: Path) -> PrefsFile:
    root = compose(text, path)
    if root is None:
        raise ConfigError(f"{path}: empty; expected 'preferences:' and/or 'regions:'")
    return _Reader(path).file(root)


class _Reader(NodeBase):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.path = path
        self.lines: dict[tuple[str, str], int] = {}

    def mapping(self, node: Any, where: str, known: tuple[str, ...] = ()) -> dict[str, Any]:
        import yaml

        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{where} must be a mapping")
        out: dict[str, tuple[Any, Any]] = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node)
            if not isinstance(key, str):
                raise self.fail(key_node, f"{where}: keys must be text, got {key!r}")
            if key in out:
                raise self.fail(key_node, f"{where}: {key} is given twice")
            if known and key not in known:
                raise self.fail(
                    key_node, f"{where}: unknown key {key!r} (expected one of: {', '.join(known)})"
                )
            out[key] = (key_node, value_node)
        return out

    def file(self, root: Any) -> PrefsFile:
        top = self.mapping(root, "the file", _TOP)
        preferences: dict[str, Value] = {}
        regions: dict[str, dict[str, Value]] = {}
        if "preferences" in top:
            preferences = self.values(top["preferences"][1], "preferences", "")
        if "regions" in top:
            node = top["regions"][1]
            if self.scalar(node) is not None:
                for region, (key_node, body) in self.mapping(node, "regions").items():
                    if not _REGION.match(region):
                        raise self.fail(key_node, f"regions: {region!r} is not an AWS region name")
                    regions[region] = self.values(body, f"regions.{region}", region)
        return PrefsFile(self.path, preferences, regions, self.lines)

    def values(self, node: Any, where: str, scope: str) -> dict[str, Value]:
        import yaml

        if self.scalar(node) is None:
            return {}
        out: dict[str, Value] = {}
        for key, (key_node, value_node) in self.mapping(node, where).items():
            if key == "shellProfile":
                if isinstance(value_node, yaml.ScalarNode) and self.scalar(value_node) is None:
                    continue
                profiles = self.mapping(value_node, f"{where}.shellProfile", _PROFILES)
                for os_name, (_, profile_node) in profiles.items():
                    full = f"shellProfile.{os_name}"
                    out[full] = self.value(BY_KEY[full], profile_node, scope)
                continue
            spec = BY_KEY.get(key)
            if spec is None:
                raise self.fail(
                    key_node,
                    f"{where}: unknown preference {key!r} (known: {', '.join(_FILE_KEYS)})",
                )
            out[key] = self.value(spec, value_node, scope)
        return out

    def value(self, spec: Input, node: Any, scope: str) -> Value:
        import yaml

        self.lines[(scope, spec.key)] = node.start_mark.line + 1
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, f"{spec.key} must be a single value")
        raw = self.scalar(node)
        if raw is None:
            return spec.default
        if spec.kind == "flag" and not isinstance(raw, (bool, str)):
            raise self.fail(node, f"{spec.key} must be true or false; got {raw!r}")
        if spec.kind == "minutes" and (isinstance(raw, (bool, float)) or not _textual(raw)):
            raise self.fail(
                node,
                f"{spec.key} must be a whole number of minutes from {spec.low} to {spec.high}; "
                f"got {raw!r}",
            )
        if spec.kind not in ("flag", "minutes") and not isinstance(raw, str):
            raise self.fail(node, f"{spec.key} must be text (quote it); got {raw!r}")
        try:
            return parse_value(spec, _scalar_text(raw))
        except PrefsValueError as exc:
            raise self.fail(node, exc.message) from None


def _textual(raw: Any) -> bool:
    return isinstance(raw, (int, str))


def _scalar_text(raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return str(raw)
