"""A YAML node reader for validated files: values come with their line, errors name
`file:line`. Files are read with `yaml.compose` so every value keeps its position."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection
from typing import Any

from ssmctl.yaml_nodes import NodeBase


class NodeReader(NodeBase):
    """Turns YAML nodes into checked values; `fail` builds a `file:line: message` error."""

    def is_null(self, node: Any) -> bool:
        import yaml

        return isinstance(node, yaml.ScalarNode) and self.scalar(node) is None

    def mapping(
        self, node: Any, where: str, allowed: Collection[str]
    ) -> dict[str, tuple[Any, Any]]:
        import yaml

        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, f"{where} must be a mapping of keys")
        out: dict[str, tuple[Any, Any]] = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node)
            if not isinstance(key, str):
                raise self.fail(key_node, f"{where}: keys must be text, got {key!r}")
            if key in out:
                raise self.fail(key_node, f"{where}: duplicate key {key!r}")
            if key not in allowed:
                names = ", ".join(allowed)
                raise self.fail(
                    key_node, f"{where}: unknown key {key!r} (expected one of: {names})"
                )
            out[key] = (key_node, value_node)
        return out

    def sequence(self, node: Any, where: str) -> list[Any]:
        import yaml

        if self.is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, f"{where} must be a list")
        return list(node.value)

    def text(
        self,
        node: Any,
        where: str,
        *,
        choices: tuple[str, ...] = (),
        pattern: re.Pattern[str] | None = None,
        hint: str = "",
    ) -> str:
        value = self.scalar(node)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not choices:
            value = str(value)
        if not isinstance(value, str) or not value:
            raise self.fail(node, f"{where} must be a non-empty string")
        if choices and value not in choices:
            raise self.fail(node, f"{where} must be one of {', '.join(choices)}; got {value!r}")
        if pattern is not None and not pattern.match(value):
            raise self.fail(node, f"{where} {value!r} is not valid{': ' + hint if hint else ''}")
        return value

    def boolean(self, node: Any, where: str) -> bool:
        value = self.scalar(node)
        if not isinstance(value, bool):
            raise self.fail(node, f"{where} must be true or false")
        return value

    def number(
        self, node: Any, where: str, low: float, high: float, *, integer: bool = False
    ) -> float:
        value = self.scalar(node)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(node, f"{where} must be {'a whole number' if integer else 'a number'}")
        if integer and not isinstance(value, int):
            raise self.fail(node, f"{where} must be a whole number")
        if not low <= value <= high:
            raise self.fail(node, f"{where} must be between {low:g} and {high:g}; got {value}")
        return float(value)

    def tags(self, node: Any, where: str) -> dict[str, str]:
        if self.is_null(node):
            return {}
        tags: dict[str, str] = {}
        for key, (key_node, value_node) in self.mapping(node, where, AnyKey()).items():
            if not 1 <= len(key) <= 128 or key.lower().startswith("aws:"):
                raise self.fail(
                    key_node,
                    f"{where}: tag key {key!r} must be 1-128 characters, not starting with aws:",
                )
            value = self.scalar(value_node)
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise self.fail(value_node, f"{where}.{key} must be text (quote it)")
            text = str(value)
            if len(text) > 256:
                raise self.fail(value_node, f"{where}.{key} is longer than 256 characters")
            tags[key] = text
        return tags


class AnyKey(Collection[str]):
    """The allowed-keys set of a free-form mapping (tags): everything."""

    def __contains__(self, item: object) -> bool:
        return True

    def __iter__(self) -> Any:
        return iter(())

    def __len__(self) -> int:
        return 0


def ipv4(reader: NodeReader, node: Any, where: str) -> ipaddress.IPv4Address:
    text = reader.text(node, where)
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise reader.fail(node, f"{where} {text!r} is not an IPv4 address") from None


def private_ipv4(reader: NodeReader, node: Any, where: str) -> str:
    address = ipv4(reader, node, where)
    if not address.is_private:
        raise reader.fail(node, f"{where} {address} is not a private address")
    return str(address)
