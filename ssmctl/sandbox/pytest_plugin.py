"""pytest fixtures for testing against the sandbox (entry point `pytest11: ssmctl_sandbox`).

- `ssmctl_sandbox`: one in-process sandbox with the built-in fleet for the whole session.
- `ssmctl_sandbox_env`: points `os.environ` at it as the default user, with empty AWS
  config and credentials files and no AWS_PROFILE / AWS_SESSION_TOKEN; returns the env.
- `ssmctl_sandbox_factory`: starts `python -m ssmctl.sandbox` sandboxes (custom fleets)
  and stops them at teardown.

Importing this module is cheap: it imports neither moto nor the sandbox until a fixture runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ssmctl.sandbox.process import SandboxProcess
    from ssmctl.sandbox.server import Sandbox


@pytest.fixture(scope="session")
def ssmctl_sandbox() -> Iterator[Sandbox]:
    """The in-process sandbox with the built-in fleet (shared by the session)."""
    from ssmctl.sandbox.server import Sandbox

    sandbox = Sandbox().start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def ssmctl_sandbox_env(
    ssmctl_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    """Point this test's environment at the sandbox as its default user."""
    from ssmctl.sandbox.server import UNSET_VARS

    if not ssmctl_sandbox.intact():
        # Something (moto's mock_aws, typically) reset moto under the sandbox.
        ssmctl_sandbox.reseed()
    for name in list(os.environ):
        if name in UNSET_VARS or name.startswith("AWS_ENDPOINT_URL_"):
            monkeypatch.delenv(name)
    env = ssmctl_sandbox.env()
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        path = tmp_path / name.lower()
        path.write_text("", encoding="utf-8")
        env[name] = str(path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def ssmctl_sandbox_factory() -> Iterator[Callable[..., SandboxProcess]]:
    """`factory(fleet_path=None, user=None)` starts a sandbox subprocess; all stop at teardown."""
    from ssmctl.sandbox.process import SandboxProcess

    started: list[SandboxProcess] = []

    def factory(
        fleet: str | os.PathLike[str] | None = None, *, user: str | None = None
    ) -> SandboxProcess:
        process = SandboxProcess(fleet, user=user)
        started.append(process)
        return process.start()

    yield factory
    for process in started:
        process.stop()
