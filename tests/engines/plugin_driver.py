"""Runs `run_plugin` in a process of its own, so tests can send it signals and give it a
real pty as its terminal. Usage: plugin_driver.py CONFIG.json (see helpers.start_driver).

Writes {"status", "error", "terminated", "notices"} to the config's "result" path.
"""

from __future__ import annotations

import fcntl
import json
import sys
import termios
from typing import Any

from ssmctl.engines.plugin import Plugin, PluginSource, run_plugin
from ssmctl.errors import PluginError


def main(config_path: str) -> int:
    with open(config_path, encoding="utf-8") as handle:
        config: dict[str, Any] = json.load(handle)
    if config["controlling_tty"]:
        # Started in a new session: adopt the test's pty as the controlling terminal, so
        # resizing it sends us SIGWINCH as a real terminal would.
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    outcome: dict[str, Any] = {"status": None, "error": None, "terminated": 0, "notices": []}

    def terminate() -> None:
        outcome["terminated"] += 1

    try:
        outcome["status"] = run_plugin(
            Plugin(config["plugin"], PluginSource.PATH, tuple(config["version"])),
            config["response"],
            config["request"],
            region=config["region"],
            profile=None,
            endpoint_url=config["endpoint"],
            terminate=terminate,
            notice=outcome["notices"].append,
            startup_timeout=config["startup_timeout"],
            env=config["env"],
        )
    except PluginError as exc:
        outcome["error"] = str(exc)
    with open(config["result"], "w", encoding="utf-8") as handle:
        json.dump(outcome, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
