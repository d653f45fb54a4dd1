"""--engine / SSMCTL_ENGINE / connect.engine, and what auto picks."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssmctl.config import parse_config
from ssmctl.engines.choice import EngineKind, choose_engine, engine_setting
from ssmctl.errors import ConfigError, PluginError, UsageError

FAKE = Path(__file__).resolve().parents[1] / "fakes" / "session-manager-plugin"


def test_precedence_flag_environment_config_default() -> None:
    env = {"SSMCTL_ENGINE": "plugin"}
    assert engine_setting("native", env, "auto") == "native"
    assert engine_setting(None, env, "native") == "plugin"
    assert engine_setting(None, {}, "native") == "native"
    assert engine_setting(None, {}, None) == "auto"
    with pytest.raises(UsageError, match="unknown engine 'fast'"):
        engine_setting(None, {"SSMCTL_ENGINE": "fast"}, None)


def test_config_key() -> None:
    assert parse_config("connect:\n  engine: native\n", Path("c.yaml")).engine == "native"
    with pytest.raises(ConfigError, match=r"connect\.engine must be one of auto, native, plugin"):
        parse_config("connect:\n  engine: fast\n", Path("c.yaml"))


def test_auto_falls_back_to_native_with_a_notice(tmp_path: Path) -> None:
    choice = choose_engine("auto", {"PATH": str(tmp_path)}, None)
    if choice.kind is EngineKind.PLUGIN:
        pytest.skip("a session-manager-plugin is installed in a standard location")
    assert choice.notice is not None
    assert choice.notice.startswith("ssmctl: using the native engine (session-manager-plugin")


def test_auto_prefers_a_working_plugin() -> None:
    choice = choose_engine("auto", {"SSMCTL_PLUGIN": str(FAKE)}, None)
    assert choice.kind is EngineKind.PLUGIN and choice.notice is None


def test_an_explicit_plugin_that_does_not_work_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="SSMCTL_PLUGIN"):
        choose_engine("auto", {"SSMCTL_PLUGIN": str(tmp_path / "nope")}, None)
    with pytest.raises(PluginError):
        choose_engine("plugin", {"PATH": str(tmp_path)}, str(tmp_path / "nope"))


def test_native_needs_nothing() -> None:
    choice = choose_engine("native", {"SSMCTL_PLUGIN": "/nonexistent"}, None)
    assert choice.kind is EngineKind.NATIVE and choice.plugin is None
