"""What the session commands share: choosing the engine and the start-up timeout."""

from __future__ import annotations

from ssmctl.cli.context import App
from ssmctl.engines.choice import EngineChoice, choose_engine, engine_setting


def pick_engine(app: App, flag: str | None) -> EngineChoice:
    """The engine for this run (see ssmctl.engines.choice); auto's fallback is noticed."""
    setting = engine_setting(flag, app.env, app.config.engine)
    choice = choose_engine(setting, app.env, app.config.plugin_path)
    if choice.notice:
        app.notice(choice.notice)
    return choice


def startup_timeout_value(app: App, flag: float | None) -> float:
    """--startup-timeout, else the config file's plugin.startup_timeout, else 30 s."""
    from ssmctl.connect import DEFAULT_STARTUP_TIMEOUT

    if flag is not None:
        return flag
    configured = app.config.startup_timeout
    return configured if configured is not None else DEFAULT_STARTUP_TIMEOUT
