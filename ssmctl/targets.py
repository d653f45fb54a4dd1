"""Target specs -> managed instances.

A target is one of: an instance id (`i-...`, hybrid `mi-...`), a Name-tag glob (`web-*`),
`Key=Value` tags (values may use `*` and `?`), a resource group, a private or public IPv4
address, a private or public EC2 DNS name. Aliases (`@name`) are expanded by the caller
from the config file before parsing.

Every result is joined with SSM DescribeInstanceInformation so it says whether SSM can
reach it. Filters run server-side; the number of calls does not grow with the fleet
beyond pagination (see docs/targets.md for the calls each form makes).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from ssmctl.aws import error_code
from ssmctl.errors import TargetNotFound, UsageError
from ssmctl.models import Instance
from ssmctl.targets_join import join_instance

ClientFor = Callable[[str], Any]
"""Returns the boto3 client for a service name in the region being resolved."""

_INSTANCE_ID = re.compile(r"^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$")
_HYBRID_ID = re.compile(r"^mi-[0-9a-f]{17}$")
_LIVE_STATES = ["pending", "running", "shutting-down", "stopping", "stopped"]
_SSM_BATCH = 100  # InstanceInformationFilter values: at most 100
_EC2_ID_BATCH = 200


@dataclasses.dataclass(frozen=True)
class TargetSpec:
    """A parsed target: every constraint given is ANDed."""

    text: str
    instance_ids: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()
    group: str | None = None
    address: str | None = None
    dns_name: str | None = None

    @property
    def matches_everything(self) -> bool:
        return not (self.instance_ids or self.tags or self.group or self.address or self.dns_name)


def is_instance_id(text: str) -> bool:
    return bool(_INSTANCE_ID.match(text) or _HYBRID_ID.match(text))


def parse_tag(text: str) -> tuple[str, str]:
    """`Key=Value` -> (key, value). The value may be a glob; `Key=*` means "has the key"."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"malformed tag {text!r}: expected Key=Value (for example Env=prod)")
    if any(c in key for c in "*?"):
        raise UsageError(f"malformed tag {text!r}: the key cannot contain * or ?")
    if not value:
        raise UsageError(f"malformed tag {text!r}: empty value (use {key}=* for any value)")
    return key, value


def parse_target(
    text: str | None, *, tags: Sequence[str] = (), group: str | None = None
) -> TargetSpec:
    """Parse a positional target plus `--tag`/`--group` options into one spec."""
    parsed_tags = [parse_tag(t) for t in tags]
    ids: list[str] = []
    address = dns_name = None
    shown: list[str] = []
    if text is not None:
        value = text.strip()
        if not value:
            raise UsageError("empty target")
        if value.startswith("@"):
            raise UsageError(f"alias {value} must be expanded before parsing")
        shown.append(value)
        lowered = value.lower()
        if is_instance_id(lowered):
            ids.append(lowered)
        elif re.match(r"^m?i-", lowered) and re.match(r"^m?i-[0-9a-f]+$", lowered):
            raise UsageError(
                f"malformed instance id {value!r}: expected i- or mi- and 8 or 17 hex digits"
            )
        elif _is_ipv4(value):
            address = value
        elif lowered.endswith((".internal", ".amazonaws.com")):
            dns_name = lowered
        elif "=" in value:
            parsed_tags.insert(0, parse_tag(value))
        else:
            parsed_tags.insert(0, ("Name", value))
    shown.extend(f"--tag {t}" for t in tags)
    if group:
        shown.append(f"--group {group}")
    return TargetSpec(
        text=" ".join(shown) or "all instances",
        instance_ids=tuple(ids),
        tags=tuple(parsed_tags),
        group=group,
        address=address,
        dns_name=dns_name,
    )


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _is_glob(value: str) -> bool:
    return any(c in value for c in "*?")


def resolve(spec: TargetSpec, *, region: str, client: ClientFor) -> list[Instance]:
    """All instances in `region` that match `spec`, joined with their SSM status.

    Sorted: online first, then by Name, then by id.
    """
    ids: set[str] | None = set(spec.instance_ids) if spec.instance_ids else None
    view = _SsmView()
    if spec.group:
        members = group_members(client("resource-groups"), spec.group, region)
        view.arns.update(members)
        ids = set(members) if ids is None else ids & set(members)
        if not ids:
            return []

    ec2_rows: list[tuple[dict[str, Any], str]] = []
    if ids is None or any(i.startswith("i-") for i in ids):
        ec2_ids = None if ids is None else sorted(i for i in ids if i.startswith("i-"))
        ec2_rows = describe_ec2(client("ec2"), spec, ec2_ids, drop_terminated=not spec.instance_ids)
    ec2_ids_seen = [i for i, _ in ec2_rows_ids(ec2_rows)]

    ssm = client("ssm")
    hybrid = view.find_hybrid(spec, ids, ssm, client, ec2_ids_seen)
    wanted = [
        i
        for i, state in ec2_rows_ids(ec2_rows)
        if i not in view.answered and i not in view.info and state != "terminated"
    ]
    wanted += sorted(i for i in hybrid if i not in view.info)
    if wanted:
        view.info.update(describe_info_by_ids(ssm, wanted))

    instances = [
        join_instance(region, ec2=row, owner=owner, info=view.info.get(row["InstanceId"]))
        for row, owner in ec2_rows
    ]
    for node_id in sorted(hybrid):
        row = view.info.get(node_id)
        if row is None:
            continue  # SSM does not know it (deregistered, or an explicit id that vanished)
        instances.append(
            join_instance(
                region,
                info=row,
                tags=view.hybrid_tags.get(node_id),
                account=_arn_account(view.arns.get(node_id)),
            )
        )
    return sort_instances(instances)


@dataclasses.dataclass
class _SsmView:
    """What SSM (and the tagging API, for hybrid nodes) said during one resolution."""

    info: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    answered: set[str] = dataclasses.field(default_factory=set)
    """EC2 ids a broad SSM query already answered for (absent from `info` = unmanaged)."""
    hybrid_tags: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    arns: dict[str, str] = dataclasses.field(default_factory=dict)

    def find_hybrid(
        self,
        spec: TargetSpec,
        ids: set[str] | None,
        ssm: Any,
        client: ClientFor,
        ec2_ids: Sequence[str],
    ) -> set[str]:
        """The hybrid node ids matching `spec` (filling `info` on the way)."""
        hybrid: set[str] | None = None if ids is None else {i for i in ids if i.startswith("mi-")}
        if spec.dns_name:
            return set()  # EC2 DNS names never name a hybrid node
        if spec.tags and hybrid != set():
            tagged = self._tagged(spec, ssm, client, ec2_ids)
            hybrid = tagged if hybrid is None else hybrid & tagged
        if spec.address and hybrid != set():
            rows = describe_info(ssm, [{"Key": "ResourceType", "Values": ["ManagedInstance"]}])
            near = {i for i, row in rows.items() if row.get("IPAddress") == spec.address}
            self.info.update({i: rows[i] for i in near})
            hybrid = near if hybrid is None else hybrid & near
        if hybrid is None:
            # No constraint reaches hybrid nodes: this is a listing of everything.
            self.info.update(describe_info(ssm, []))
            self.answered.update(ec2_ids)
            hybrid = {i for i in self.info if i.startswith("mi-")}
        return hybrid

    def _tagged(
        self, spec: TargetSpec, ssm: Any, client: ClientFor, ec2_ids: Sequence[str]
    ) -> set[str]:
        if all(not _is_glob(v) for _, v in spec.tags):
            # One tag query answers for EC2 and hybrid nodes alike: any registered node
            # carrying these tags is in it, so EC2 rows absent from it are unmanaged.
            rows = describe_info(ssm, [{"Key": f"tag:{k}", "Values": [v]} for k, v in spec.tags])
            self.info.update(rows)
            self.answered.update(ec2_ids)
            return {i for i in rows if i.startswith("mi-")}
        found = tagged_hybrid_nodes(client("resourcegroupstaggingapi"), spec.tags)
        self.hybrid_tags.update({i: t for i, (t, _) in found.items()})
        self.arns.update({i: a for i, (_, a) in found.items()})
        return set(found)


def sort_instances(instances: Iterable[Instance]) -> list[Instance]:
    return sorted(instances, key=lambda i: (not i.online, i.name.lower(), i.instance_id))


def ec2_rows_ids(rows: Iterable[tuple[dict[str, Any], str]]) -> Iterator[tuple[str, str]]:
    for row, _ in rows:
        yield row["InstanceId"], row.get("State", {}).get("Name", "")


def describe_ec2(
    ec2: Any, spec: TargetSpec, ids: Sequence[str] | None, *, drop_terminated: bool
) -> list[tuple[dict[str, Any], str]]:
    """EC2 instances matching the spec's server-side filters, with their owner account."""
    filters: list[dict[str, Any]] = [
        {"Name": f"tag:{k}", "Values": [v]} for k, v in spec.tags if v != "*"
    ]
    filters += [{"Name": "tag-key", "Values": [k]} for k, v in spec.tags if v == "*"]
    if spec.address:
        name = "private-ip-address" if _is_private(spec.address) else "ip-address"
        filters.append({"Name": name, "Values": [spec.address]})
    if spec.dns_name:
        name = "private-dns-name" if spec.dns_name.endswith(".internal") else "dns-name"
        filters.append({"Name": name, "Values": [spec.dns_name]})
    if drop_terminated:
        filters.append({"Name": "instance-state-name", "Values": _LIVE_STATES})

    rows: list[tuple[dict[str, Any], str]] = []
    if ids is None:
        pages = ec2.get_paginator("describe_instances").paginate(
            Filters=filters, PaginationConfig={"PageSize": 1000}
        )
        for page in pages:
            rows += _reservation_rows(page)
    else:
        for start in range(0, len(ids), _EC2_ID_BATCH):
            rows += _describe_ids(ec2, list(ids[start : start + _EC2_ID_BATCH]), filters)
    if spec.address and not rows and not _is_private(spec.address):
        # A public-looking address may still be a private one in a non-RFC 1918 VPC.
        private = [f for f in filters if f["Name"] != "ip-address"]
        private.append({"Name": "private-ip-address", "Values": [spec.address]})
        pages = ec2.get_paginator("describe_instances").paginate(Filters=private)
        for page in pages:
            rows += _reservation_rows(page)
    return rows


def _describe_ids(
    ec2: Any, ids: list[str], filters: list[dict[str, Any]]
) -> list[tuple[dict[str, Any], str]]:
    """DescribeInstances by id; ids that vanished (InvalidInstanceID.NotFound) are dropped."""
    import botocore.exceptions

    while ids:
        try:
            pages = ec2.get_paginator("describe_instances").paginate(
                InstanceIds=ids, Filters=filters
            )
            rows: list[tuple[dict[str, Any], str]] = []
            for page in pages:
                rows += _reservation_rows(page)
            return rows
        except botocore.exceptions.ClientError as exc:
            code = error_code(exc)
            if code == "InvalidInstanceID.Malformed":
                raise UsageError(f"malformed instance id: {_message(exc)}") from None
            if code != "InvalidInstanceID.NotFound":
                raise
            missing = set(re.findall(r"i-[0-9a-f]+", _message(exc)))
            if not missing & set(ids):
                raise
            ids = [i for i in ids if i not in missing]
    return []


def _reservation_rows(page: Mapping[str, Any]) -> list[tuple[dict[str, Any], str]]:
    return [
        (instance, reservation.get("OwnerId", ""))
        for reservation in page.get("Reservations", [])
        for instance in reservation.get("Instances", [])
    ]


def describe_info(ssm: Any, filters: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """DescribeInstanceInformation with `Filters`, all pages, keyed by instance id."""
    kwargs: dict[str, Any] = {"PaginationConfig": {"PageSize": 50}}
    if filters:
        kwargs["Filters"] = filters
    out: dict[str, dict[str, Any]] = {}
    for page in ssm.get_paginator("describe_instance_information").paginate(**kwargs):
        for row in page.get("InstanceInformationList", []):
            out[row["InstanceId"]] = row
    return out


def describe_info_by_ids(ssm: Any, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The SSM view of the given ids, in batches of 100.

    AWS answers InvalidInstanceId for the whole batch when one id vanished (terminated
    between our EC2 call and this one): such a batch is split until the culprit is alone
    and dropped, so churn costs a few extra calls and never fails the lookup.
    """
    import botocore.exceptions

    out: dict[str, dict[str, Any]] = {}
    pending = [list(ids[i : i + _SSM_BATCH]) for i in range(0, len(ids), _SSM_BATCH)]
    while pending:
        batch = pending.pop()
        try:
            out.update(describe_info(ssm, [{"Key": "InstanceIds", "Values": batch}]))
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) != "InvalidInstanceId":
                raise
            if len(batch) > 1:
                half = len(batch) // 2
                pending += [batch[:half], batch[half:]]
    return out


def tagged_hybrid_nodes(
    tagging: Any, tags: Sequence[tuple[str, str]]
) -> dict[str, tuple[dict[str, str], str]]:
    """Hybrid nodes whose tags match (values may be globs): id -> (tags, arn).

    The tagging API filters by resource type and key server-side; globbed values, which
    neither it nor SSM can match, are checked here.
    """
    tag_filters = [{"Key": k, "Values": [v]} if not _is_glob(v) else {"Key": k} for k, v in tags]
    out: dict[str, tuple[dict[str, str], str]] = {}
    pages = tagging.get_paginator("get_resources").paginate(
        ResourceTypeFilters=["ssm:managed-instance"], TagFilters=tag_filters
    )
    for page in pages:
        for mapping in page.get("ResourceTagMappingList", []):
            arn = mapping["ResourceARN"]
            node_tags = {t["Key"]: t["Value"] for t in mapping.get("Tags", [])}
            if all(
                fnmatch.fnmatchcase(node_tags.get(k, ""), v) and k in node_tags for k, v in tags
            ):
                out[arn.rsplit("/", 1)[-1]] = (node_tags, arn)
    return out


def group_members(groups: Any, name: str, region: str) -> dict[str, str]:
    """Instance ids (EC2 and hybrid) in a resource group -> their ARNs."""
    import botocore.exceptions

    members: dict[str, str] = {}
    # No resource-type filter: AWS rejects a filter naming a type the group's own query
    # leaves out (BadRequestException), so other types are skipped here instead.
    kwargs: dict[str, Any] = {"Group": name}
    try:
        while True:
            page = groups.list_group_resources(**kwargs)
            for item in page.get("Resources", []):
                arn = item.get("Identifier", {}).get("ResourceArn", "")
                if ":instance/" in arn or ":managed-instance/" in arn:
                    members[arn.rsplit("/", 1)[-1]] = arn
            token = page.get("NextToken")
            if not token:
                return members
            kwargs["NextToken"] = token
    except botocore.exceptions.ClientError as exc:
        if error_code(exc) == "NotFoundException":
            raise TargetNotFound(f"no resource group named {name!r} in {region}") from None
        raise


def _is_private(address: str) -> bool:
    ip = ipaddress.IPv4Address(address)
    return ip.is_private or ip in ipaddress.IPv4Network("100.64.0.0/10")


def _arn_account(arn: str | None) -> str | None:
    if not arn:
        return None
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4] else None


def _message(exc: BaseException) -> str:
    response = getattr(exc, "response", {})
    return str(response.get("Error", {}).get("Message", ""))
