"""Choosing one instance for single-target commands: never silently."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ssmctl.errors import AmbiguousTarget, Interrupted, TargetNotFound, TargetNotOnline
from ssmctl.models import Instance
from ssmctl.targets import TargetSpec

Picker = Callable[[Sequence[Instance]], "Instance | None"]


def choose_one(
    instances: Sequence[Instance],
    spec: TargetSpec,
    region: str,
    *,
    first: bool = False,
    pick: Picker | None = None,
    require_online: bool = True,
) -> Instance:
    """The one instance a single-target command acts on.

    Several matches fail with AmbiguousTarget (listing the candidates) unless `first`
    (take the first in the sorted order: online ones come first) or `pick` (ask the user).
    """
    if not instances:
        raise TargetNotFound(f"no instance matches {spec.text} in {region}")
    chosen: Instance | None
    if len(instances) == 1 or first:
        chosen = instances[0]
    elif pick is not None:
        chosen = pick(instances)
        if chosen is None:
            raise Interrupted("no instance picked")
    else:
        raise AmbiguousTarget(
            f"{spec.text} matches {len(instances)} instances in {region}; "
            "name one by id, or pass --pick or --first",
            instances,
        )
    if require_online and not chosen.online:
        label = f"{chosen.instance_id} ({chosen.name})" if chosen.name else chosen.instance_id
        raise TargetNotOnline(f"{label} cannot take a session: {chosen.availability()}", chosen)
    return chosen
