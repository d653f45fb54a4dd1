"""The dotted-version rule of protocol.md section 6 and the decisions it drives."""

from __future__ import annotations

import pytest

from ssmctl.datachannel.versions import (
    PortMode,
    port_mode,
    smux_keepalive,
    supports_mux,
    version_greater,
)


@pytest.mark.parametrize(
    ("left", "right", "greater"),
    [
        ("3.0.197.0", "3.0.196.0", True),
        ("3.0.196.0", "3.0.196.0", False),
        ("3.0.196.1", "3.0.196.0", True),
        ("3.0.1000.0", "3.0.196.0", True),  # numeric, not textual
        ("2.9.999.9", "3.0.196.0", False),
        ("10.0.0.0", "9.9.9.9", True),
        ("3.1", "3.0.196.0", False),  # different part counts: never greater
        ("3.0.196.0.1", "3.0.196.0", False),
        ("3.x.0.0", "3.0.196.0", False),  # not a number: not greater
        ("", "3.0.196.0", False),
    ],
)
def test_version_greater(left: str, right: str, greater: bool) -> None:
    assert version_greater(left, right) is greater


def test_mux_and_keepalive_thresholds() -> None:
    assert not supports_mux("3.0.196.0")
    assert supports_mux("3.0.196.1")
    assert supports_mux("3.3.0.0")
    assert not supports_mux("3.3")  # 2 parts: not greater, so basic
    assert smux_keepalive("3.1.1511.0")
    assert not smux_keepalive("3.1.1512.0")
    assert not smux_keepalive("3.3.0.0")


def test_port_mode() -> None:
    forwarding = {"type": "LocalPortForwarding", "portNumber": "80"}
    assert port_mode({"portNumber": "22"}, "3.3.0.0") is PortMode.STDIO
    assert port_mode(forwarding, "3.3.0.0") is PortMode.MUX
    assert port_mode(forwarding, "3.0.196.0") is PortMode.BASIC
    assert port_mode(forwarding, "3.3") is PortMode.BASIC
