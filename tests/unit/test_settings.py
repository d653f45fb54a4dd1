"""Precedence: flag > alias > environment > config file > default."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssmctl.config import Alias, parse_config
from ssmctl.errors import UsageError
from ssmctl.settings import Flags, resolve_settings

CONFIG = parse_config(
    "profile: cfg-profile\nregion: cfg-region\nregions: [r1, r2]\n"
    "endpoint_url: http://cfg\noutput: yaml\ncolor: always\n",
    Path("c.yaml"),
)


def _settings(flags: Flags, env: dict[str, str], **kwargs: object) -> object:
    return resolve_settings(flags, env, stdout_isatty=True, config=CONFIG, **kwargs)  # type: ignore[arg-type]


def test_config_beats_default() -> None:
    s = resolve_settings(Flags(), {}, stdout_isatty=True, config=CONFIG)
    assert (s.profile, s.regions, s.endpoint_url, s.output, s.color) == (
        "cfg-profile",
        ("cfg-region",),
        "http://cfg",
        "yaml",
        True,
    )


def test_environment_beats_config() -> None:
    env = {
        "AWS_PROFILE": "env-profile",
        "AWS_REGION": "env-region",
        "AWS_ENDPOINT_URL": "http://env",
        "SSMCTL_OUTPUT": "csv",
        "NO_COLOR": "1",
    }
    s = resolve_settings(Flags(), env, stdout_isatty=True, config=CONFIG)
    # Environment profile and endpoint are left to botocore (which reads them itself).
    assert (s.profile, s.regions, s.endpoint_url, s.output, s.color) == (
        None,
        ("env-region",),
        None,
        "csv",
        False,
    )


def test_alias_beats_environment_and_flag_beats_alias() -> None:
    alias = Alias(name="a", target="x", profile="alias-profile", region="alias-region")
    env = {"AWS_PROFILE": "env-profile", "AWS_REGION": "env-region"}
    s = resolve_settings(Flags(), env, stdout_isatty=True, config=CONFIG, alias=alias)
    assert (s.profile, s.regions) == ("alias-profile", ("alias-region",))
    flags = Flags(profile="flag-profile", regions=("flag-region",))
    s = resolve_settings(flags, env, stdout_isatty=True, config=CONFIG, alias=alias)
    assert (s.profile, s.regions) == ("flag-profile", ("flag-region",))


def test_flags_beat_everything() -> None:
    flags = Flags(
        profile="p", regions=("a,b", "c"), endpoint_url="http://flag", output="json", no_color=True
    )
    env = {"AWS_REGION": "env-region", "AWS_ENDPOINT_URL": "http://env", "SSMCTL_OUTPUT": "csv"}
    s = resolve_settings(flags, env, stdout_isatty=True, config=CONFIG, fan_out=True)
    assert (s.profile, s.regions, s.endpoint_url, s.output, s.color) == (
        "p",
        ("a", "b", "c"),
        "http://flag",
        "json",
        False,
    )


def test_fan_out_commands_default_to_config_regions() -> None:
    s = resolve_settings(Flags(), {}, stdout_isatty=True, config=CONFIG, fan_out=True)
    assert s.regions == ("r1", "r2")


def test_output_defaults_to_table_on_terminal_and_json_in_pipe() -> None:
    empty = parse_config("", Path("c.yaml"))
    assert resolve_settings(Flags(), {}, stdout_isatty=True, config=empty).output == "table"
    assert resolve_settings(Flags(), {}, stdout_isatty=False, config=empty).output == "json"
    assert resolve_settings(Flags(), {}, stdout_isatty=False, config=empty).color is False


def test_single_region_commands_refuse_several() -> None:
    with pytest.raises(UsageError, match="one region"):
        resolve_settings(Flags(regions=("a,b",)), {}, stdout_isatty=True, config=CONFIG)


def test_bad_output_from_environment_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="SSMCTL_OUTPUT"):
        resolve_settings(Flags(), {"SSMCTL_OUTPUT": "xml"}, stdout_isatty=True, config=CONFIG)
