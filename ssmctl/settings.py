"""Where each setting comes from: flag > alias > environment > config file > default."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from ssmctl.config import Alias, Config, default_config_path, load_config
from ssmctl.errors import UsageError


@dataclasses.dataclass(frozen=True)
class Flags:
    """The common options as given on the command line (None / empty = not given)."""

    profile: str | None = None
    regions: tuple[str, ...] = ()
    all_regions: bool = False
    endpoint_url: str | None = None
    output: str | None = None
    config: str | None = None
    no_color: bool = False
    debug: bool = False


@dataclasses.dataclass(frozen=True)
class Settings:
    """The effective settings of one command run."""

    config: Config
    profile: str | None
    """An explicit profile (flag, alias or config). AWS_PROFILE is left to botocore."""
    regions: tuple[str, ...]
    """Regions chosen by flag, alias, environment or config; empty means the profile's."""
    all_regions: bool
    endpoint_url: str | None
    """An explicit endpoint (flag or config); AWS_ENDPOINT_URL is honoured by botocore."""
    output: str
    color: bool
    debug: bool


def split_regions(values: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """`--region a,b --region c` -> ("a", "b", "c"), order kept, duplicates dropped."""
    out: list[str] = []
    for value in values:
        for part in value.split(","):
            region = part.strip()
            if region and region not in out:
                out.append(region)
    return tuple(out)


def read_config(flags: Flags, env: Mapping[str, str]) -> Config:
    if flags.config:
        return load_config(Path(flags.config).expanduser(), required=True)
    path = default_config_path(env)
    return load_config(path, required=bool(env.get("SSMCTL_CONFIG")))


def resolve_settings(
    flags: Flags,
    env: Mapping[str, str],
    *,
    stdout_isatty: bool,
    config: Config | None = None,
    alias: Alias | None = None,
    fan_out: bool = False,
) -> Settings:
    """Combine flags, an alias, the environment and the config file into Settings."""
    config = config if config is not None else read_config(flags, env)
    if flags.all_regions and flags.regions:
        raise UsageError("--region and --all-regions cannot be combined")
    regions = _regions(flags, env, config, alias, fan_out)
    if not fan_out and len(regions) > 1:
        raise UsageError(f"this command works in one region; got {', '.join(regions)} (choose one)")
    return Settings(
        config=config,
        profile=_profile(flags, env, config, alias),
        regions=regions,
        all_regions=flags.all_regions,
        endpoint_url=_endpoint(flags, env, config),
        output=_output(flags, env, config, stdout_isatty),
        color=_color(flags, env, config, stdout_isatty),
        debug=flags.debug or _truthy(env.get("SSMCTL_DEBUG")) or bool(config.debug),
    )


def _profile(
    flags: Flags, env: Mapping[str, str], config: Config, alias: Alias | None
) -> str | None:
    if flags.profile:
        return flags.profile
    if alias and alias.profile:
        return alias.profile
    if env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE"):
        return None  # botocore reads it; the plugin inherits the same environment
    return config.profile


def _regions(
    flags: Flags, env: Mapping[str, str], config: Config, alias: Alias | None, fan_out: bool
) -> tuple[str, ...]:
    if flags.regions:
        return split_regions(flags.regions)
    if alias and alias.region:
        return (alias.region,)
    from_env = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if from_env:
        return (from_env,)
    if fan_out and config.regions:
        return config.regions
    return (config.region,) if config.region else ()


def _endpoint(flags: Flags, env: Mapping[str, str], config: Config) -> str | None:
    if flags.endpoint_url:
        return flags.endpoint_url
    if env.get("AWS_ENDPOINT_URL"):
        return None  # botocore reads it (and the service-specific variants) itself
    return config.endpoint_url


def _output(flags: Flags, env: Mapping[str, str], config: Config, isatty: bool) -> str:
    output = flags.output or env.get("SSMCTL_OUTPUT") or config.output
    if output is None:
        return "table" if isatty else "json"
    if output not in ("table", "json", "jsonl", "yaml", "csv", "text"):
        raise UsageError(
            f"unknown output format {output!r} (from SSMCTL_OUTPUT or the config file); "
            "expected table, json, jsonl, yaml, csv or text"
        )
    return output


def _color(flags: Flags, env: Mapping[str, str], config: Config, isatty: bool) -> bool:
    if flags.no_color or env.get("NO_COLOR"):
        return False
    if config.color in ("always", "never"):
        return config.color == "always"
    return isatty and env.get("TERM") != "dumb"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")
