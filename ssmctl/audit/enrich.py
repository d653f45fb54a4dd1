"""Target names and transcript locations for a stream of session records, in batches.

Names are looked up for a whole batch at once (one DescribeInstances per region and
batch, remembered); transcripts are probed a few at a time. Records keep their order.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Iterator

from ssmctl.audit.names import NameResolver
from ssmctl.audit.records import SessionRecord
from ssmctl.audit.transcripts import TranscriptFinder

BATCH = 200
PROBES = 4


def enrich(
    records: Iterable[SessionRecord],
    *,
    names: NameResolver | None,
    finder: TranscriptFinder | None,
    batch: int = BATCH,
) -> Iterator[SessionRecord]:
    pending: list[SessionRecord] = []
    with concurrent.futures.ThreadPoolExecutor(PROBES, "ssmctl-transcripts") as pool:
        for record in records:
            pending.append(record)
            if len(pending) >= batch:
                yield from _complete(pending, names, finder, pool)
                pending = []
        if pending:
            yield from _complete(pending, names, finder, pool)


def _complete(
    records: list[SessionRecord],
    names: NameResolver | None,
    finder: TranscriptFinder | None,
    pool: concurrent.futures.Executor,
) -> list[SessionRecord]:
    if names is not None:
        by_region: dict[str, set[str]] = defaultdict(set)
        for record in records:
            if record.target:
                by_region[record.region].add(record.target)
        known = {region: names.names(region, ids) for region, ids in by_region.items()}
        records = [
            dataclasses.replace(r, target_name=known.get(r.region, {}).get(r.target or ""))
            for r in records
        ]
    if finder is not None:
        records = list(pool.map(finder.locate, records))
    return records
