"""find_plugin: the search order, and messages that say what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssmctl.engines.discovery import (
    POSIX_LOCATIONS,
    WINDOWS_LOCATIONS,
    PluginSource,
    find_plugin,
    install_hint,
)
from ssmctl.errors import ExitStatus, PluginError


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n", encoding="utf-8")
    path.chmod(0o755)
    return path


@pytest.fixture
def places(tmp_path: Path) -> dict[str, Path]:
    """One plugin in each kind of place."""
    return {
        "env": executable(tmp_path / "env" / "smp"),
        "config": executable(tmp_path / "config" / "smp"),
        "path": executable(tmp_path / "pathdir" / "session-manager-plugin"),
        "standard": executable(tmp_path / "std" / "session-manager-plugin"),
    }


def test_order_env_var_then_config_then_path_then_standard(places: dict[str, Path]) -> None:
    std = [str(places["standard"])]
    env = {"SSMCTL_PLUGIN": str(places["env"]), "PATH": str(places["path"].parent)}
    found = find_plugin(env, str(places["config"]), locations=std)
    assert (found.path, found.source) == (str(places["env"]), PluginSource.ENV)

    del env["SSMCTL_PLUGIN"]
    found = find_plugin(env, str(places["config"]), locations=std)
    assert (found.path, found.source) == (str(places["config"]), PluginSource.CONFIG)

    found = find_plugin(env, None, locations=std)
    assert (found.path, found.source) == (str(places["path"]), PluginSource.PATH)

    found = find_plugin({"PATH": ""}, None, locations=std)
    assert (found.path, found.source) == (str(places["standard"]), PluginSource.STANDARD)


def test_empty_env_var_is_not_set(places: dict[str, Path]) -> None:
    found = find_plugin({"SSMCTL_PLUGIN": "", "PATH": str(places["path"].parent)}, None)
    assert found.source is PluginSource.PATH


@pytest.mark.parametrize("kind", ["missing", "not executable", "directory"])
def test_bad_env_var_is_an_error_naming_it(
    tmp_path: Path, places: dict[str, Path], kind: str
) -> None:
    target = tmp_path / "nothing-here"
    if kind == "not executable":
        target.write_text("x", encoding="utf-8")
        target.chmod(0o644)
    elif kind == "directory":
        target.mkdir()
    # A working plugin elsewhere must not be used instead: the user asked for this one.
    env = {"SSMCTL_PLUGIN": str(target), "PATH": str(places["path"].parent)}
    with pytest.raises(PluginError) as info:
        find_plugin(env, str(places["config"]), locations=[str(places["standard"])])
    assert "$SSMCTL_PLUGIN" in str(info.value)
    assert str(target) in str(info.value)
    assert info.value.exit_status is ExitStatus.PLUGIN
    assert int(info.value.exit_status) == 4


def test_bad_config_path_is_an_error_naming_the_key(
    tmp_path: Path, places: dict[str, Path]
) -> None:
    missing = tmp_path / "no" / "plugin"
    with pytest.raises(PluginError, match=r"plugin\.path in the config file") as info:
        find_plugin({"PATH": str(places["path"].parent)}, str(missing))
    assert "does not exist" in str(info.value)


def test_config_path_expands_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    executable(tmp_path / "tools" / "smp")
    found = find_plugin({"PATH": ""}, "~/tools/smp", locations=[])
    assert found.path == str(tmp_path / "tools" / "smp")


def test_non_executable_standard_location_is_skipped(tmp_path: Path) -> None:
    plain = tmp_path / "a" / "session-manager-plugin"
    plain.parent.mkdir()
    plain.write_text("x", encoding="utf-8")
    good = executable(tmp_path / "b" / "session-manager-plugin")
    found = find_plugin({"PATH": ""}, None, locations=[str(plain), str(good)])
    assert found.path == str(good)


def test_not_found_says_where_it_looked_how_to_install_and_how_to_point(tmp_path: Path) -> None:
    std = [str(tmp_path / "x" / "session-manager-plugin")]
    with pytest.raises(PluginError) as info:
        find_plugin({"PATH": str(tmp_path)}, None, locations=std)
    message = str(info.value)
    assert "session-manager-plugin not found" in message
    assert str(tmp_path / "x") in message
    assert install_hint() in message
    assert "$SSMCTL_PLUGIN" in message
    assert "plugin.path" in message
    assert "\n" not in message


def test_standard_locations_cover_the_official_installers() -> None:
    assert "/usr/local/sessionmanagerplugin/bin/session-manager-plugin" in POSIX_LOCATIONS
    assert "/usr/local/bin/session-manager-plugin" in POSIX_LOCATIONS
    assert "/usr/bin/session-manager-plugin" in POSIX_LOCATIONS
    assert "/opt/homebrew/bin/session-manager-plugin" in POSIX_LOCATIONS
    assert WINDOWS_LOCATIONS == (
        r"C:\Program Files\Amazon\SessionManagerPlugin\bin\session-manager-plugin.exe",
    )


LATEST = "https://s3.amazonaws.com/session-manager-downloads/plugin/latest"


@pytest.mark.parametrize(
    ("system", "machine", "expected"),
    [
        (
            "Linux",
            "x86_64",
            [
                f"{LATEST}/ubuntu_64bit/session-manager-plugin.deb",
                f"{LATEST}/linux_64bit/session-manager-plugin.rpm",
            ],
        ),
        (
            "Linux",
            "aarch64",
            [
                f"{LATEST}/ubuntu_arm64/session-manager-plugin.deb",
                f"{LATEST}/linux_arm64/session-manager-plugin.rpm",
            ],
        ),
        (
            "Darwin",
            "arm64",
            [
                "brew install --cask session-manager-plugin",
                f"{LATEST}/mac_arm64/session-manager-plugin.pkg",
            ],
        ),
        (
            "Darwin",
            "x86_64",
            [
                "brew install --cask session-manager-plugin",
                f"{LATEST}/mac/session-manager-plugin.pkg",
            ],
        ),
        ("Windows", "AMD64", [f"{LATEST}/windows/SessionManagerPluginSetup.exe"]),
    ],
)
def test_install_hint_per_platform(system: str, machine: str, expected: list[str]) -> None:
    hint = install_hint(system, machine)
    for text in expected:
        assert text in hint
    assert "docs.aws.amazon.com" in hint
