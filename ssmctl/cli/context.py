"""The environment a command runs in: streams, tty flags, settings, AWS context.

Commands get an `App`; tests can build one around other streams and environments.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from ssmctl.config import Alias, Config
from ssmctl.output import Column, render
from ssmctl.sanitize import terminal_safe
from ssmctl.settings import Flags, Settings, read_config, resolve_settings

if TYPE_CHECKING:
    from ssmctl.aws import AwsContext


class App:
    """One command run: its flags, environment, streams and (lazily) settings and AWS."""

    current: App | None = None
    """The App of the running command, for the error handler's --debug check."""

    def __init__(
        self,
        flags: Flags,
        *,
        fan_out: bool = False,
        env: Mapping[str, str] | None = None,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
        stdin: TextIO | None = None,
    ) -> None:
        self.flags = flags
        self.fan_out = fan_out
        self.env: Mapping[str, str] = env if env is not None else os.environ
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self.stdin = stdin or sys.stdin
        self._config: Config | None = None
        self._settings: Settings | None = None
        self._alias: Alias | None = None
        self.debug = flags.debug
        App.current = self

    # -- terminal -------------------------------------------------------------
    @property
    def stdout_isatty(self) -> bool:
        return _isatty(self.stdout)

    @property
    def stdin_isatty(self) -> bool:
        return _isatty(self.stdin)

    @property
    def stderr_isatty(self) -> bool:
        return _isatty(self.stderr)

    def notice(self, message: str) -> None:
        """A diagnostic line on stderr (never on stdout: that is for data)."""
        self.stderr.write(terminal_safe(message) + "\n")
        self.stderr.flush()

    # -- settings -------------------------------------------------------------
    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = read_config(self.flags, self.env)
        return self._config

    def use_alias(self, alias: Alias | None) -> None:
        """Let an alias's profile/region sit between the flags and the environment."""
        self._alias = alias
        self._settings = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = resolve_settings(
                self.flags,
                self.env,
                stdout_isatty=self.stdout_isatty,
                config=self.config,
                alias=self._alias,
                fan_out=self.fan_out,
            )
            self.debug = self._settings.debug
        return self._settings

    def aws(self) -> AwsContext:
        """The AwsContext for these settings (imports boto3 only now)."""
        from ssmctl.aws import AwsContext

        settings = self.settings
        region = settings.regions[0] if len(settings.regions) == 1 else None
        return AwsContext(
            profile=settings.profile,
            region=region,
            endpoint_url=settings.endpoint_url,
            call_log=self.notice if settings.debug else None,
        )

    def regions(self, aws: AwsContext) -> list[str]:
        from ssmctl.regions import target_regions

        return target_regions(aws, self.settings.regions, self.settings.all_regions)

    # -- output ---------------------------------------------------------------
    def render(self, records: Iterable[Mapping[str, Any]], columns: Sequence[Column]) -> int:
        settings = self.settings
        count = render(
            records, settings.output, columns, self.stdout, color=settings.color, width=None
        )
        self.stdout.flush()
        return count


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
