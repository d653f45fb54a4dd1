"""A trail: the sandbox's CloudTrail records delivered to S3 as AWS delivers them.

Every record the sandbox adds to its event history is queued and, every `interval`
seconds (AWS: about 5 minutes) or on `flush()`, written to moto's S3 as gzipped
`{"Records":[...]}` files, one per account and region (at most 1000 records a file):

    <prefix>/AWSLogs/[<o-orgid>/]<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/
        <account>_CloudTrail_<region>_<yyyymmddThhmmZ>_<16 random>.json.gz

stamped with the delivery time. Historical records (`deliver_history`) are filed as AWS
would have filed them at the time: grouped by the 5 minutes they happened in, stamped
with the end of those 5 minutes.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import secrets
import string
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ssmctl.sandbox import moto_access
from ssmctl.sandbox.fleet import Fleet, TrailDeliverySpec
from ssmctl.sandbox.trail import TrailEvent, TrailStore, parse_event_time

RECORDS_PER_FILE = 1000
HISTORY_SLOT = dt.timedelta(minutes=5)
_ALPHABET = string.ascii_letters + string.digits


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def file_key(spec: TrailDeliverySpec, account: str, region: str, stamp: dt.datetime) -> str:
    """Where AWS puts a trail file delivered at `stamp`."""
    folder = f"{spec.organization_id}/{account}" if spec.organization_id else account
    root = f"{spec.prefix}/AWSLogs" if spec.prefix else "AWSLogs"
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    name = f"{account}_CloudTrail_{region}_{stamp:%Y%m%dT%H%MZ}_{suffix}.json.gz"
    return f"{root}/{folder}/CloudTrail/{region}/{stamp:%Y/%m/%d}/{name}"


def encode(records: Iterable[Mapping[str, Any]]) -> bytes:
    body = json.dumps({"Records": list(records)}, separators=(",", ":")).encode()
    return gzip.compress(body, compresslevel=5)


class TrailDelivery:
    """Delivers one account's event history to a bucket (thread-safe)."""

    def __init__(
        self,
        spec: TrailDeliverySpec,
        account_id: str,
        region: str,
        *,
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self.spec = spec
        self.account_id = account_id
        self.region = region
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: list[Mapping[str, Any]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, store: TrailStore) -> TrailDelivery:
        """Create the bucket, follow `store`, and deliver every `interval` seconds."""
        moto_access.create_bucket(self.account_id, self.region, self.spec.bucket)
        store.subscribe(self._queue)
        if self.spec.interval > 0:
            self._thread = threading.Thread(
                target=self._run, name="ssmctl-sandbox-trail", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _queue(self, event: TrailEvent) -> None:
        if self._stop.is_set():
            return
        with self._lock:
            self._pending.append(event.record)

    def _run(self) -> None:
        while not self._stop.wait(self.spec.interval):
            self.flush()

    def flush(self) -> list[str]:
        """Deliver what is queued now, stamped now; returns the keys written."""
        with self._lock:
            records, self._pending = self._pending, []
        if not records:
            return []
        stamp = self._clock()
        return self._write(records, lambda _: stamp)

    def deliver_history(self, records: Iterable[Mapping[str, Any]]) -> list[str]:
        """File past records where AWS would have filed them when they happened."""

        def slot_end(record: Mapping[str, Any]) -> dt.datetime:
            when = parse_event_time(str(record["eventTime"]))
            slot = int(when.timestamp() // HISTORY_SLOT.total_seconds()) + 1
            return dt.datetime.fromtimestamp(slot * HISTORY_SLOT.total_seconds(), dt.timezone.utc)

        return self._write(list(records), slot_end)

    def _write(
        self,
        records: list[Mapping[str, Any]],
        stamp_of: Callable[[Mapping[str, Any]], dt.datetime],
    ) -> list[str]:
        groups: dict[tuple[str, str, dt.datetime], list[Mapping[str, Any]]] = defaultdict(list)
        for record in records:
            identity = record.get("userIdentity") or {}
            account = str(record.get("recipientAccountId") or identity.get("accountId") or "")
            groups[(account or self.account_id, str(record["awsRegion"]), stamp_of(record))].append(
                record
            )
        keys = []
        for (account, region, stamp), group in sorted(groups.items(), key=lambda kv: kv[0][2]):
            for start in range(0, len(group), RECORDS_PER_FILE):
                key = file_key(self.spec, account, region, stamp)
                body = encode(group[start : start + RECORDS_PER_FILE])
                moto_access.put_object(self.account_id, self.spec.bucket, key, body)
                keys.append(key)
        return keys


def start_trail(
    store: TrailStore,
    spec: TrailDeliverySpec | None,
    account_id: str,
    region: str,
    previous: TrailDelivery | None = None,
) -> TrailDelivery | None:
    """Stop `previous` and deliver `store` to `spec`'s bucket from now on (None: no trail)."""
    if previous is not None:
        previous.stop()
    if spec is None:
        return None
    return TrailDelivery(spec, account_id, region).start(store)


def seed_trail(
    store: TrailStore, fleet: Fleet, previous: TrailDelivery | None
) -> TrailDelivery | None:
    """The fleet's trail (`cloudtrail.bucket`) and history (`cloudtrail.history`)."""
    delivery = start_trail(
        store, fleet.trail_delivery, fleet.account_id, fleet.default_region, previous
    )
    if fleet.trail_history:
        add_history(store, delivery, fleet.trail_history, bucket=fleet.history_in_bucket)
    return delivery


def add_history(
    store: TrailStore,
    delivery: TrailDelivery | None,
    records: Iterable[Mapping[str, Any]],
    *,
    bucket: bool = True,
    lookup: bool = True,
) -> int:
    """Seed past records: into LookupEvents' store (which, as AWS, returns only the last
    90 days of it) and/or, when there is a trail, into its bucket as files of their time."""
    chosen = list(records)
    for record in chosen:
        TrailEvent.from_record(record)  # ValueError before anything is stored
    if lookup:
        store.add_many(chosen, notify=False)
    if bucket and delivery is not None:
        delivery.deliver_history(chosen)
    return len(chosen)
