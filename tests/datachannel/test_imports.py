"""The protocol package stands alone: no engines, sandbox or CLI behind it."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
import ssmctl.datachannel
assert "websockets" not in sys.modules, "the sans-IO package must not pull in websockets"
import ssmctl.datachannel.link, ssmctl.datachannel.handshake, ssmctl.datachannel.smux_session
import ssmctl.datachannel.chunking, ssmctl.datachannel.versions, ssmctl.datachannel.opening
bad = sorted(m for m in sys.modules if m.split(".")[:2] in (
    ["ssmctl", "engines"], ["ssmctl", "sandbox"], ["ssmctl", "cli"]))
assert not bad, bad
"""


def test_datachannel_imports_neither_engines_sandbox_nor_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
