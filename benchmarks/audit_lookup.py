"""CloudTrail LookupEvents export rate against its ceiling, with the sandbox's throttle on.

    python benchmarks/audit_lookup.py [--events 3000] [--regions 2]

LookupEvents allows 2 calls per second per account and region, 50 events a call: at most
100 events per second per region. A sandbox (subprocess) is seeded with `--events` session
events per region (Start, Resume, Terminate; through its fleet file's `cloudtrail.history`)
and throttles at 2 calls/s, burst 2, as AWS does. ssmctl's LookupEvents source reads them
all, first one region alone, then every region at once (each at its own pace), side by
side in one run. Goal (issue #4): within 10% of the ceiling, zero failures, nothing lost.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
CEILING = 100.0
FLEET = """\
account_id: "111122223333"
regions: [{regions}]
users: [{{name: bench}}]
cloudtrail: {{throttle: true, rate: 2, burst: 2, history: history.json}}
"""


def seed(folder: Path, regions: tuple[str, ...], events: int) -> tuple[Path, dt.datetime]:
    from tests.audit import records

    begin = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(hours=2)
    history: list[dict[str, Any]] = []
    for n, region in enumerate(regions):
        history += records.sessions_history(
            [f"user{n}", "ops", "oncall"],
            begin,
            events,
            region=region,
            step=dt.timedelta(seconds=1),
            account="111122223333",
        )
    (folder / "history.json").write_text(json.dumps(history))
    fleet = folder / "fleet.yaml"
    fleet.write_text(FLEET.format(regions=", ".join(regions)))
    return fleet, begin


def read(env: dict[str, str], regions: tuple[str, ...], since: dt.datetime) -> dict[str, Any]:
    import boto3
    from botocore.config import Config

    from ssmctl.audit.lookup import LookupStats, lookup_regions
    from ssmctl.audit.pacing import Pacer
    from ssmctl.audit.query import EventQuery

    session = boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    config = Config(retries={"mode": "standard", "total_max_attempts": 1})
    clients = {
        r: session.client(
            "cloudtrail", region_name=r, endpoint_url=env["AWS_ENDPOINT_URL"], config=config
        )
        for r in regions
    }
    pacers = {r: Pacer() for r in regions}
    stats: dict[str, LookupStats] = {}
    query = EventQuery(since=since, until=dt.datetime.now(dt.timezone.utc))
    started = time.monotonic()
    count = sum(
        1
        for _ in lookup_regions(
            clients.__getitem__, pacers.__getitem__, regions, query, stats=stats
        )
    )
    return {"events": count, "seconds": time.monotonic() - started, "stats": stats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=3000, help="events per region")
    parser.add_argument("--regions", type=int, default=2, choices=(1, 2, 3))
    args = parser.parse_args()
    regions = REGIONS[: args.regions]
    from ssmctl.sandbox.process import SandboxProcess

    with tempfile.TemporaryDirectory() as tmp:
        fleet, since = seed(Path(tmp), regions, args.events)
        with SandboxProcess(fleet) as sandbox:
            env = sandbox.env()
            cases = [("1 region", regions[:1])]
            if len(regions) > 1:
                cases.append((f"{len(regions)} regions at once", regions))
            print(f"{args.events} events per region; ceiling {CEILING:g} events/s per region\n")
            print(
                "| case | events | calls | throttled | seconds | events/s per region | of ceiling |"
            )
            print("|---|---:|---:|---:|---:|---:|---:|")
            for name, chosen in cases:
                result = read(env, chosen, since - dt.timedelta(minutes=1))
                stats = result["stats"].values()
                calls = sum(s.calls for s in stats)
                retries = sum(s.retries for s in stats)
                per_region = result["events"] / len(chosen) / result["seconds"]
                lost = args.events * len(chosen) - result["events"]
                print(
                    f"| {name} | {result['events']:,} | {calls} | {retries} | "
                    f"{result['seconds']:.1f} | {per_region:.1f} | "
                    f"**{per_region / CEILING:.0%}** |" + (f" LOST {lost}" if lost else "")
                )


if __name__ == "__main__":
    main()
