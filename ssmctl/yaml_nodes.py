"""YAML files validated node by node (the config file, prefs files, fleet files).

A file is read with `yaml.compose`, so every value keeps its position and every error
names `file:line`. PyYAML is imported only when a file is read.
"""

from __future__ import annotations

from typing import Any

from ssmctl.errors import ConfigError


def compose(text: str, source: object, *, column: bool = False) -> Any:
    """The root node of `text`, None when it holds nothing. Invalid YAML is a ConfigError
    naming `source:line` (and `:column` with `column`)."""
    import yaml

    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = str(source)
        if mark is not None:
            where += f":{mark.line + 1}" + (f":{mark.column + 1}" if column else "")
        raise ConfigError(f"{where}: invalid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: invalid YAML: {exc}") from None


class NodeBase:
    """What every reader of validated YAML needs: a node's value, and `file:line` errors."""

    def __init__(self, source: object) -> None:
        import yaml

        self.source = str(source)
        self._constructor = yaml.constructor.SafeConstructor()

    def fail(self, node: Any, message: str) -> ConfigError:
        return ConfigError(f"{self.source}:{node.start_mark.line + 1}: {message}")

    def scalar(self, node: Any) -> Any:
        """A scalar node's value; any other node as it is."""
        import yaml

        if not isinstance(node, yaml.ScalarNode):
            return node
        return self._constructor.construct_object(node, deep=True)
