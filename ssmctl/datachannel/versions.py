"""Agent versions and the session-type decisions they drive (protocol.md section 6).

Unlike the plugin-version rule of section 1 (pad with zeros), the data channel compares
dotted versions only when both have the same number of parts; otherwise, or when a part
is not a number, the answer is "not greater". Advertise 4-part versions such as 3.3.0.0.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

MUX_AFTER = "3.0.196.0"
"""Agents newer than this multiplex port forwarding over smux."""

SMUX_KEEPALIVE_DISABLED_AFTER = "3.1.1511.0"
"""Agents newer than this need no smux keepalive."""

LOCAL_PORT_FORWARDING = "LocalPortForwarding"


def version_greater(left: str, right: str) -> bool:
    """True when `left` > `right`; False when the part counts differ or a part is not numeric."""
    left_parts, right_parts = left.strip().split("."), right.strip().split(".")
    if len(left_parts) != len(right_parts):
        return False
    try:
        left_numbers = [int(part) for part in left_parts]
        right_numbers = [int(part) for part in right_parts]
    except ValueError:
        return False
    return left_numbers > right_numbers


def supports_mux(agent_version: str) -> bool:
    """True when local port forwarding uses smux with this agent."""
    return version_greater(agent_version, MUX_AFTER)


def smux_keepalive(agent_version: str) -> bool:
    """True when the smux session must send keepalive NOPs to this agent."""
    return not version_greater(agent_version, SMUX_KEEPALIVE_DISABLED_AFTER)


class PortMode(enum.Enum):
    """How a Port session carries its bytes on the client side."""

    STDIO = "stdio"
    """No `type` property (AWS-StartSSHSession): stdin out, Output to stdout."""
    BASIC = "basic"
    """One local TCP connection at a time, raw bytes as Output, Flag 1 on hang-up."""
    MUX = "mux"
    """Every local TCP connection is an smux stream inside the Output payloads."""


def port_mode(properties: Mapping[str, Any], agent_version: str) -> PortMode:
    """The client-side mode of a Port session from its Properties and the agent version."""
    if properties.get("type") != LOCAL_PORT_FORWARDING:
        return PortMode.STDIO
    return PortMode.MUX if supports_mux(agent_version) else PortMode.BASIC
