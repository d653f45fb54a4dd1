"""What the doctor's checks get (`DoctorContext`) and give back (`CheckResult`)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ssmctl.aws import AwsContext
    from ssmctl.targets import TargetSpec

OK = "OK"
WARN = "WARN"
FAIL = "FAIL"
SKIP = "SKIP"
"""Not run: a check it depends on failed (never counted as a failure itself)."""


@dataclasses.dataclass(frozen=True)
class CheckResult:
    name: str
    verdict: str
    reason: str
    seconds: float = 0.0

    def to_record(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "verdict": self.verdict,
            "reason": self.reason,
            "seconds": round(self.seconds, 3),
        }


@dataclasses.dataclass
class DoctorContext:
    """Everything the checks need; `found` carries what one check learns for another."""

    aws: AwsContext
    env: Mapping[str, str]
    plugin_path: str | None = None
    """The config file's plugin.path."""
    region_source: str = ""
    """Where the region came from, for the region check's reason."""
    target: TargetSpec | None = None
    principal: str | None = None
    stale_ping_minutes: float = 10.0
    found: dict[str, Any] = dataclasses.field(default_factory=dict)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    def remember(self, key: str, value: Any) -> None:
        with self.lock:
            self.found[key] = value

    def recall(self, key: str) -> Any:
        with self.lock:
            return self.found.get(key)
