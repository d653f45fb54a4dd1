"""Per-node working directories: where an emulated node's commands and shells run.

Every node gets its own directory under one root, so what a command leaves behind on
`web-1` is there for the next command on `web-1` and nowhere else. The root is a private
temporary directory made on first use and removed with the sandbox, unless the caller
passes a root of its own (which is then left in place).
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
from pathlib import Path

# Node ids become directory names: only ids of the shapes SSM uses are accepted.
_NODE_ID = re.compile(r"^(i-[0-9a-f]{8}([0-9a-f]{9})?|mi-[0-9a-f]{17})$")


class Workdirs:
    """The working directories of a sandbox's nodes (thread-safe)."""

    def __init__(self, root: Path | None = None) -> None:
        self._given = root
        self._made: Path | None = None
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        """The directory holding every node's working directory (made on first use)."""
        with self._lock:
            if self._given is not None:
                self._given.mkdir(parents=True, exist_ok=True)
                return self._given
            if self._made is None:
                self._made = Path(tempfile.mkdtemp(prefix="ssmctl-sandbox-nodes-"))
            return self._made

    def path(self, node_id: str) -> Path:
        """The node's working directory, created (mode 0700) if it does not exist yet."""
        if not _NODE_ID.match(node_id):
            raise ValueError(f"not a node id: {node_id!r}")
        directory = self.root / node_id
        directory.mkdir(mode=0o700, exist_ok=True)
        return directory

    def close(self) -> None:
        """Remove the temporary root and everything in it (a given root is left alone)."""
        with self._lock:
            made, self._made = self._made, None
        if made is not None:
            shutil.rmtree(made, ignore_errors=True)
