"""Plugin versions: parsing, comparison, gating, and `plugin --version` failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssmctl.engines.versions import (
    parse_version,
    plugin_version,
    uses_env_handoff,
    version_greater,
)
from ssmctl.errors import PluginError

from .helpers import FakePlugin


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.2.707.0\n", (1, 2, 707, 0)),
        ("1.2.0.0", (1, 2, 0, 0)),
        ("session-manager-plugin 1.2.463.0\n", (1, 2, 463, 0)),
        ("1.3\n", (1, 3)),
    ],
)
def test_parse_version(text: str, expected: tuple[int, ...]) -> None:
    assert parse_version(text) == expected


@pytest.mark.parametrize("text", ["", "\n", "dev", "v-next"])
def test_unparseable_version(text: str) -> None:
    with pytest.raises(PluginError, match="cannot read the plugin version"):
        parse_version(text)


@pytest.mark.parametrize(
    ("left", "right", "greater"),
    [
        ((1, 2, 498), (1, 2, 497, 0), True),
        ((1, 2, 497), (1, 2, 497, 0), False),
        ((1, 2, 497, 0, 1), (1, 2, 497, 0), True),
        ((1, 10, 0, 0), (1, 9, 999, 0), True),
        ((1, 2, 0, 0), (1, 2, 497, 0), False),
    ],
)
def test_version_greater_pads_with_zeros(
    left: tuple[int, ...], right: tuple[int, ...], greater: bool
) -> None:
    assert version_greater(left, right) is greater


@pytest.mark.parametrize(
    ("version", "env"),
    [
        ((1, 2, 497, 0), False),  # "strictly greater than" 1.2.497.0
        ((1, 2, 497), False),
        ((1, 2, 497, 1), True),
        ((1, 2, 498), True),
        ((1, 2, 707, 0), True),
        ((1, 2, 0, 0), False),  # a build from source
        ((1, 1, 61, 0), False),
    ],
)
def test_env_handoff_boundary(version: tuple[int, ...], env: bool) -> None:
    assert uses_env_handoff(version) is env


def test_plugin_version_runs_the_binary(fake: FakePlugin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PLUGIN_VERSION", "1.2.707.0")
    assert plugin_version(str(fake.path)) == (1, 2, 707, 0)


def test_source_build_is_supported(fake: FakePlugin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PLUGIN_VERSION", "1.2.0.0")
    assert plugin_version(str(fake.path)) == (1, 2, 0, 0)


def test_too_old_names_both_versions_and_how_to_upgrade(
    fake: FakePlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PLUGIN_VERSION", "1.1.61.0")
    with pytest.raises(PluginError) as info:
        plugin_version(str(fake.path))
    message = str(info.value)
    assert "1.1.61.0" in message
    assert "1.2.0.0" in message
    assert "too old" in message
    assert "Install" in message


def test_failing_version_command(fake: FakePlugin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PLUGIN_VERSION", "oops")
    monkeypatch.setenv("FAKE_PLUGIN_VERSION_EXIT", "3")
    with pytest.raises(PluginError, match="failed with exit status 3"):
        plugin_version(str(fake.path))


def test_garbage_version_output(fake: FakePlugin, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_PLUGIN_VERSION", "Unknown operation")
    with pytest.raises(PluginError, match="Unknown operation"):
        plugin_version(str(fake.path))


def test_hanging_version_command_times_out(
    fake: FakePlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PLUGIN_VERSION_SLEEP", "5")
    with pytest.raises(PluginError, match=r"did not answer within 0\.3 s"):
        plugin_version(str(fake.path), timeout=0.3)


def test_unrunnable_binary(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="cannot run"):
        plugin_version(str(tmp_path / "vanished"))
