from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ssmctl.config import DOCUMENTED_KEYS, load_config, parse_config
from ssmctl.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _parse(text: str) -> object:
    return parse_config(text, Path("cfg.yaml"))


def test_example_file_is_valid_and_documents_every_key() -> None:
    path = ROOT / "config.example.yaml"
    config = load_config(path, required=True)
    assert config.aliases["web"].target == "Role=web"
    assert config.aliases["prod-db"].parameters == {
        "portNumber": ["5432"],
        "localPortNumber": ["15432"],
    }
    assert config.plugin_path and config.startup_timeout == 30
    data = yaml.safe_load(path.read_text())
    found: set[str] = set()
    for key, value in data.items():
        if key == "aliases":
            for alias in value.values():
                if isinstance(alias, dict):
                    found.update(f"aliases.<name>.{k}" for k in alias)
        elif isinstance(value, dict):
            found.update(f"{key}.{k}" for k in value)
        else:
            found.add(key)
    assert found == set(DOCUMENTED_KEYS)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("region: [1, 2]", r"cfg.yaml:1: region must be a non-empty string"),
        ("output: fancy", r"cfg.yaml:1: output must be one of"),
        ("colour: auto", r"cfg.yaml:1: unknown key 'colour'"),
        ("plugin:\n  pth: x", r"cfg.yaml:2: unknown key 'plugin.pth'"),
        ("plugin:\n  startup_timeout: -1", r"cfg.yaml:2: plugin.startup_timeout must be between"),
        ("aliases:\n  a:\n    region: x", r"cfg.yaml:3: aliases.a needs a target"),
        ("aliases:\n  a: {target: '@b'}", r"cfg.yaml:2: aliases.a.target cannot be another alias"),
        ("region: a\nregion: b", r"cfg.yaml:2: duplicate key 'region'"),
        ("region: [unclosed", r"cfg.yaml:1:\d+: invalid YAML"),
        ("- a\n- b", r"cfg.yaml:1: the config file must be a mapping"),
        ("connect:\n  reason: " + "x" * 300, r"cfg.yaml:2: connect.reason is longer than 256"),
    ],
)
def test_errors_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _parse(text)


def test_parameters_accept_scalars_and_lists() -> None:
    config = _parse("connect:\n  parameters:\n    portNumber: 80\n    command: [a, b]\n")
    assert config.parameters == {"portNumber": ["80"], "command": ["a", "b"]}  # type: ignore[attr-defined]


def test_regions_accept_comma_text() -> None:
    assert _parse("regions: 'a, b'").regions == ("a", "b")  # type: ignore[attr-defined]


def test_missing_default_file_is_empty_but_named_file_is_required(tmp_path: Path) -> None:
    assert load_config(tmp_path / "none.yaml", required=False).aliases == {}
    with pytest.raises(ConfigError, match=re.escape(str(tmp_path / "none.yaml"))):
        load_config(tmp_path / "none.yaml", required=True)


def test_unknown_alias_lists_known_ones() -> None:
    config = parse_config("aliases:\n  web: Role=web\n", Path("c.yaml"))
    with pytest.raises(ConfigError, match=r"unknown alias @db in c.yaml \(known: @web\)"):
        config.alias("@db")
