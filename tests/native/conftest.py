"""Fixtures for the native engine: a fake SSM region with its data-channel far end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.native.fake_ssm import FakeSsm


@pytest.fixture
def region() -> Iterator[FakeSsm]:
    """A fake SSM API plus the far end that serves its sessions, on loopback."""
    ssm = FakeSsm().start()
    try:
        yield ssm
    finally:
        ssm.stop()
