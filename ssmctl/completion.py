"""What shell completion offers (instances, sessions) and its short-lived cache.

Completion runs at every Tab: it may cost one AWS round trip when its cache is cold and
none while it is warm. The cache is one small JSON file per (kind, profile, region,
endpoint, access key) under `$XDG_CACHE_HOME/ssmctl/`, written atomically with mode 0600;
entries are trusted for TTL seconds. Nothing here imports boto3: clients are passed in.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

INSTANCES_TTL = 60.0
SESSIONS_TTL = 30.0
_CACHE_VERSION = 1
_CLOCK_SKEW = 5.0
# What can be put on a command line unquoted and still reads as a Name target: no
# spaces, quotes, globs, '=' (Key=Value) or a leading '@' (alias).
_SAFE = re.compile(r"^[A-Za-z0-9_.:/+-][A-Za-z0-9_.:/+@-]*$")


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One completion: the value typed, and a description shells may show beside it."""

    value: str
    help: str = ""


def cache_dir(env: Mapping[str, str]) -> Path:
    """`$XDG_CACHE_HOME/ssmctl`, else `~/.cache/ssmctl`."""
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ssmctl"


class CompletionCache:
    """Candidate lists by key, each trusted for a time-to-live."""

    def __init__(self, directory: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.directory = directory
        self._clock = clock

    def path(self, key: Mapping[str, str]) -> Path:
        digest = hashlib.sha256(json.dumps(dict(key), sort_keys=True).encode()).hexdigest()
        return self.directory / f"completion-{key.get('kind', 'x')}-{digest[:20]}.json"

    def get(self, key: Mapping[str, str], ttl: float) -> list[Candidate] | None:
        """The cached candidates, or None when absent, stale, foreign or unreadable."""
        try:
            data = json.loads(self.path(key).read_text(encoding="utf-8"))
            age = self._clock() - float(data["fetched_at"])
            if data.get("version") != _CACHE_VERSION or data.get("key") != _public(key):
                return None
            if not -_CLOCK_SKEW <= age < ttl:
                return None
            return [Candidate(str(v), str(h)) for v, h in data["candidates"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: Mapping[str, str], candidates: list[Candidate]) -> None:
        """Store atomically (temporary file + rename), readable by the user only."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = {
            "version": _CACHE_VERSION,
            "key": _public(key),
            "fetched_at": self._clock(),
            "candidates": [[c.value, c.help] for c in candidates],
        }
        fd, temp = tempfile.mkstemp(dir=self.directory, prefix=".completion-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                os.fchmod(out.fileno(), 0o600)
                json.dump(data, out)
            os.replace(temp, self.path(key))
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def fetch(
        self, key: Mapping[str, str], ttl: float, load: Callable[[], list[Candidate]]
    ) -> list[Candidate]:
        """The cached candidates, else `load()`'s (then cached; a failed write is ignored)."""
        found = self.get(key, ttl)
        if found is not None:
            return found
        found = load()
        # A read-only or full cache directory must not break completion.
        with contextlib.suppress(OSError):
            self.put(key, found)
        return found


def _public(key: Mapping[str, str]) -> dict[str, str]:
    # The file names the credentials only through the digest in its name.
    return {k: v for k, v in key.items() if k != "credentials"}


def cache_key(
    kind: str, *, profile: str, region: str, endpoint: str, access_key: str
) -> dict[str, str]:
    """The cache key of one candidate list (the access key enters only as a digest)."""
    credentials = hashlib.sha256(access_key.encode()).hexdigest()[:16] if access_key else ""
    return {
        "kind": kind,
        "profile": profile,
        "region": region,
        "endpoint": endpoint,
        "credentials": credentials,
    }


def instance_candidates(ec2: Any, ssm: Any) -> list[Candidate]:
    """Running EC2 instances and hybrid nodes: their ids, and their names when they can
    be typed as a target (two calls, made at the same time)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        ec2_rows = pool.submit(_ec2_rows, ec2)
        hybrid_rows = pool.submit(_hybrid_rows, ssm)
        rows = ec2_rows.result() + hybrid_rows.result()
    out = [Candidate(node_id, name) for node_id, name in rows]
    by_name: dict[str, list[str]] = {}
    for node_id, name in rows:
        if name and _SAFE.match(name):
            by_name.setdefault(name, []).append(node_id)
    for name, ids in by_name.items():
        out.append(Candidate(name, ids[0] if len(ids) == 1 else f"{len(ids)} instances"))
    return sorted(out, key=lambda c: c.value)


def _ec2_rows(ec2: Any) -> list[tuple[str, str]]:
    pages = ec2.get_paginator("describe_instances").paginate(
        Filters=[{"Name": "instance-state-name", "Values": ["running"]}],
        PaginationConfig={"PageSize": 1000},
    )
    rows = []
    for page in pages:
        for reservation in page.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                tags = {t.get("Key"): t.get("Value") for t in instance.get("Tags") or []}
                rows.append((str(instance["InstanceId"]), str(tags.get("Name") or "")))
    return rows


def _hybrid_rows(ssm: Any) -> list[tuple[str, str]]:
    pages = ssm.get_paginator("describe_instance_information").paginate(
        Filters=[{"Key": "ResourceType", "Values": ["ManagedInstance"]}],
        PaginationConfig={"PageSize": 50},
    )
    return [
        (str(row["InstanceId"]), str(row.get("Name") or ""))
        for page in pages
        for row in page.get("InstanceInformationList", [])
    ]


def session_candidates(ssm: Any) -> list[Candidate]:
    """Active sessions (one DescribeSessions page of up to 200): id, with target and owner."""
    response = ssm.describe_sessions(State="Active", MaxResults=200)
    out = []
    for row in response.get("Sessions", []):
        owner = str(row.get("Owner") or "").rsplit("/", 1)[-1]
        if not _SAFE.match(str(row["SessionId"])):
            continue
        out.append(Candidate(str(row["SessionId"]), f"{row.get('Target', '')} {owner}".strip()))
    return out


def matching(candidates: list[Candidate], incomplete: str) -> list[Candidate]:
    """Those that start with what has been typed, each value once."""
    seen: set[str] = set()
    out = []
    for candidate in candidates:
        if candidate.value.startswith(incomplete) and candidate.value not in seen:
            seen.add(candidate.value)
            out.append(candidate)
    return out
