"""Fixtures for the plugin engine tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .helpers import FakePlugin, install_fake_plugin


@pytest.fixture
def fake(tmp_path: Path) -> FakePlugin:
    """The fake plugin in a temp dir, and a hermetic environment for it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    path = install_fake_plugin(bin_dir)
    record = tmp_path / "record.json"
    env = {
        "PATH": os.defpath,
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "FAKE_PLUGIN_RECORD": str(record),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    return FakePlugin(path=path, record_path=record, env=env)
