"""Which regions a command runs in, and running work in several at once."""

from __future__ import annotations

import concurrent.futures
import dataclasses
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from ssmctl.aws import AwsContext

T = TypeVar("T")


def discover_regions(aws: AwsContext) -> list[str]:
    """The regions enabled for the account, as EC2 DescribeRegions reports them."""
    response = aws.client("ec2").describe_regions()
    return sorted(r["RegionName"] for r in response.get("Regions", []))


def target_regions(aws: AwsContext, regions: Sequence[str], all_regions: bool) -> list[str]:
    """The regions to query: every enabled one, the chosen ones, or the default."""
    if all_regions:
        return discover_regions(aws)
    if regions:
        return list(regions)
    return [aws.region]


@dataclasses.dataclass(frozen=True)
class RegionResult(Generic[T]):
    region: str
    value: T | None = None
    error: BaseException | None = None


def fan_out(
    regions: Sequence[str], work: Callable[[str], T], *, max_workers: int = 16
) -> list[RegionResult[T]]:
    """Run `work(region)` for every region concurrently; results keep the region order.

    A failure in one region does not stop the others: it is returned in its result.
    """
    if len(regions) == 1:
        return [_run(regions[0], work)]
    workers = max(1, min(max_workers, len(regions)))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_run, region, work) for region in regions]
        return [f.result() for f in futures]


def _run(region: str, work: Callable[[str], T]) -> RegionResult[T]:
    try:
        return RegionResult(region, value=work(region))
    except Exception as exc:
        return RegionResult(region, error=exc)
