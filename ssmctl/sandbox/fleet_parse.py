"""Parsing and validating a fleet file; every error names the file and line.

The file is read with `yaml.compose` so each value keeps its position; the key set of
every mapping is closed (an unknown key is an error, so a typo never goes unnoticed).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable
from typing import Any

from ssmctl.errors import ConfigError
from ssmctl.sandbox import fleet_iam
from ssmctl.sandbox.fleet import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_AGENT_VERSION,
    DEFAULT_CONNECT_TIMEOUT,
    GROUP_RESOURCE_TYPES,
    INSTANCE_STATES,
    PING_STATUSES,
    PLATFORM_DEFAULTS,
    PLATFORMS,
    Fleet,
    GroupSpec,
    HybridNodeSpec,
    InstanceSpec,
    RoleSpec,
    TagFilter,
    TrailThrottle,
    UserSpec,
    known_regions,
)
from ssmctl.sandbox.fleet_prefs import DOCUMENTED_KEYS as PREFERENCE_KEYS
from ssmctl.sandbox.fleet_prefs import parse_session_preferences
from ssmctl.sandbox.fleet_trail import TRAIL_FILE_KEYS, parse_trail_settings
from ssmctl.sandbox.yaml_reader import AnyKey, NodeReader, ipv4, private_ipv4
from ssmctl.yaml_nodes import compose

_IAM_NAME = re.compile(r"^[\w+=,.@-]{1,64}$")
_GROUP_NAME = re.compile(r"^[a-zA-Z0-9_.-]{1,300}$")
_STACK_NAME = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]{0,127}$")
_AMI = re.compile(r"^ami-[0-9a-f]{8,17}$")
_MI = re.compile(r"^mi-[0-9a-f]{17}$")
_VERSION = re.compile(r"^\d+(\.\d+){1,3}$")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
MAX_COUNT = 10_000


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# The closed key set of each mapping (an unknown key is an error: typos never pass).
_TOP_KEYS = _words(
    "account_id regions default_region users roles instances hybrid_nodes resource_groups"
    " sessions session_preferences cloudtrail iam"
)
_USER_KEYS = ("name", "default", "expired", "policies")
_ROLE_KEYS = ("name", "policies")
_INSTANCE_KEYS = _words(
    "name count region tags state instance_type private_ip platform image_id managed"
    " ping_status agent_version platform_name platform_version"
)
_HYBRID_KEYS = _words(
    "name id region tags ping_status ip_address computer_name platform platform_name"
    " platform_version agent_version activation_id iam_role"
)
_GROUP_KEYS = ("name", "region", "tag_filters", "resource_types", "stack")
_STACK_KEYS = ("name", "instances")
_SESSION_KEYS = ("connect_timeout", "time_scale")
_TRAIL_KEYS = ("throttle", "rate", "burst", *TRAIL_FILE_KEYS)

# Every key the parser accepts, for docs/sandbox.md and the test that keeps them in step.
DOCUMENTED_KEYS = (
    *_TOP_KEYS,
    *(f"users[].{k}" for k in _USER_KEYS),
    *(f"roles[].{k}" for k in _ROLE_KEYS),
    *(f"instances[].{k}" for k in _INSTANCE_KEYS),
    *(f"hybrid_nodes[].{k}" for k in _HYBRID_KEYS),
    *(f"resource_groups[].{k}" for k in _GROUP_KEYS),
    *(f"resource_groups[].stack.{k}" for k in _STACK_KEYS),
    *(f"sessions.{k}" for k in _SESSION_KEYS),
    *(f"cloudtrail.{k}" for k in _TRAIL_KEYS),
    *PREFERENCE_KEYS,
    *fleet_iam.DOCUMENTED_KEYS,
)


def parse_fleet(text: str, source: str) -> Fleet:
    """Validate the YAML `text` of a fleet file; `source` names it in errors."""
    root = compose(text, source)
    if root is None:
        raise ConfigError(f"{source}: the fleet file is empty (it needs at least users:)")
    return _FleetParser(NodeReader(source)).parse(root)


class _FleetParser:
    def __init__(self, reader: NodeReader) -> None:
        self.r = reader
        self.account_id = DEFAULT_ACCOUNT_ID
        self.regions: tuple[str, ...] = ()
        self.default_region = ""
        self.node_names: set[str] = set()
        self.iam = fleet_iam.IamSpec()

    def parse(self, root: Any) -> Fleet:
        r = self.r
        top = r.mapping(root, "the fleet file", _TOP_KEYS)
        if "account_id" in top:
            self.account_id = self._account_id(top["account_id"][1])
        self._regions(top)
        if "iam" in top:
            self.iam = fleet_iam.parse_iam(r, top["iam"][1])
        if "users" not in top:
            raise r.fail(root, "the fleet file needs users: (at least one IAM user)")
        users, default_user = self._users(top["users"][1])
        roles = self._roles(top["roles"][1]) if "roles" in top else ()
        names = [role.name for role in roles]
        if len(set(names)) != len(names):
            twice = next(n for n in names if names.count(n) > 1)
            raise r.fail(top["roles"][1], f"role {twice!r} is defined twice")
        instances = self._instances(top["instances"][1], "instances") if "instances" in top else ()
        hybrid = self._hybrid_nodes(top["hybrid_nodes"][1]) if "hybrid_nodes" in top else ()
        groups = self._groups(top["resource_groups"][1]) if "resource_groups" in top else ()
        timeout, time_scale = DEFAULT_CONNECT_TIMEOUT, 1.0
        if "sessions" in top:
            settings = r.mapping(top["sessions"][1], "sessions", _SESSION_KEYS)
            if "connect_timeout" in settings:
                node = settings["connect_timeout"][1]
                timeout = r.number(node, "sessions.connect_timeout", 0.1, 86_400)
            if "time_scale" in settings:
                time_scale = r.number(settings["time_scale"][1], "sessions.time_scale", 0.001, 1)
        preferences = None
        if "session_preferences" in top:
            preferences = parse_session_preferences(r, top["session_preferences"][1])
        throttle = self._throttle(top["cloudtrail"][1]) if "cloudtrail" in top else TrailThrottle()
        delivery, history, in_bucket = (
            parse_trail_settings(r, r.mapping(top["cloudtrail"][1], "cloudtrail", _TRAIL_KEYS))
            if "cloudtrail" in top
            else (None, (), True)
        )
        return Fleet(
            account_id=self.account_id,
            regions=self.regions,
            default_region=self.default_region,
            users=users,
            default_user=default_user,
            roles=roles,
            instances=instances,
            hybrid_nodes=hybrid,
            groups=groups,
            connect_timeout=timeout,
            session_time_scale=time_scale,
            session_preferences=preferences,
            trail_throttle=throttle,
            trail_delivery=delivery,
            trail_history=history,
            history_in_bucket=in_bucket,
            iam=self.iam,
            source=r.source,
        )

    def _account_id(self, node: Any) -> str:
        value = self.r.scalar(node)
        text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(text, str) or not re.fullmatch(r"\d{12}", text):
            raise self.r.fail(node, 'account_id must be 12 digits (quote it: "111122223333")')
        return text

    def _regions(self, top: dict[str, tuple[Any, Any]]) -> None:
        r = self.r
        known = known_regions()
        regions: list[str] = []
        if "regions" in top:
            node = top["regions"][1]
            for item in r.sequence(node, "regions"):
                region = r.text(item, "regions[]")
                if region not in known:
                    raise r.fail(item, f"unknown AWS region {region!r}")
                if region in regions:
                    raise r.fail(item, f"region {region!r} is listed twice")
                regions.append(region)
            if not regions:
                raise r.fail(node, "regions must list at least one region")
        if "default_region" in top:
            node = top["default_region"][1]
            self.default_region = r.text(node, "default_region")
            if regions and self.default_region not in regions:
                raise r.fail(node, f"default_region {self.default_region!r} is not in regions")
            if self.default_region not in known:
                raise r.fail(node, f"unknown AWS region {self.default_region!r}")
        self.regions = tuple(regions) or (self.default_region or "us-east-1",)
        self.default_region = self.default_region or self.regions[0]

    def _region(self, fields: dict[str, tuple[Any, Any]], where: str) -> str:
        if "region" not in fields:
            return self.default_region
        node = fields["region"][1]
        region = self.r.text(node, f"{where}.region")
        if region not in self.regions:
            raise self.r.fail(
                node,
                f"{where}.region {region!r} is not one of the fleet's regions "
                f"({', '.join(self.regions)})",
            )
        return region

    def _iam_name(self, fields: dict[str, tuple[Any, Any]], node: Any, where: str) -> str:
        if "name" not in fields:
            raise self.r.fail(node, f"{where} needs a name")
        return self.r.text(
            fields["name"][1],
            f"{where}.name",
            pattern=_IAM_NAME,
            hint="use letters, digits and +=,.@_- (at most 64)",
        )

    def _users(self, node: Any) -> tuple[tuple[UserSpec, ...], str]:
        r = self.r
        users: list[UserSpec] = []
        default: str | None = None
        items = r.sequence(node, "users")
        if not items:
            raise r.fail(node, "users must list at least one IAM user")
        for i, item in enumerate(items):
            where = f"users[{i}]"
            fields = r.mapping(item, where, _USER_KEYS)
            name = self._iam_name(fields, item, where)
            if any(u.name == name for u in users):
                raise r.fail(fields["name"][1], f"user {name!r} is defined twice")
            expired = (
                r.boolean(fields["expired"][1], f"{where}.expired")
                if "expired" in fields
                else False
            )
            if "default" in fields and r.boolean(fields["default"][1], f"{where}.default"):
                if default is not None:
                    raise r.fail(
                        fields["default"][1],
                        f"only one user can be the default ({default!r} already is)",
                    )
                default = name
            users.append(
                UserSpec(name=name, expired=expired, policies=self._policies(fields, where))
            )
        return tuple(users), default or users[0].name

    def _roles(self, node: Any) -> tuple[RoleSpec, ...]:
        roles = []
        for i, item in enumerate(self.r.sequence(node, "roles")):
            fields = self.r.mapping(item, f"roles[{i}]", _ROLE_KEYS)
            name = self._iam_name(fields, item, f"roles[{i}]")
            roles.append(RoleSpec(name=name, policies=self._policies(fields, f"roles[{i}]")))
        return tuple(roles)

    def _policies(
        self, fields: dict[str, tuple[Any, Any]], where: str
    ) -> tuple[fleet_iam.AttachedPolicySpec, ...]:
        if "policies" not in fields:
            return ()
        node = fields["policies"][1]
        attached = fleet_iam.parse_attached(self.r, node, f"{where}.policies")
        fleet_iam.check_references(self.r, node, self.iam, attached, f"{where}.policies")
        return attached

    def _node_name(self, node: Any, where: str) -> str:
        name = self.r.text(node, where)
        if name in self.node_names:
            raise self.r.fail(
                node, f"{where} {name!r} is already used by another node (names must be unique)"
            )
        self.node_names.add(name)
        return name

    def _instances(self, node: Any, where: str) -> tuple[InstanceSpec, ...]:
        out: list[InstanceSpec] = []
        for i, item in enumerate(self.r.sequence(node, where)):
            out.extend(self._instance(item, f"{where}[{i}]"))
        return tuple(out)

    def _instance(self, item: Any, where: str) -> list[InstanceSpec]:
        r = self.r
        fields = r.mapping(item, where, _INSTANCE_KEYS)
        if "name" not in fields:
            raise r.fail(item, f"{where} needs a name")
        values: dict[str, Any] = {"region": self._region(fields, where)}
        values["tags"] = r.tags(fields["tags"][1], f"{where}.tags") if "tags" in fields else {}
        if "Name" in values["tags"]:
            raise r.fail(
                fields["tags"][1],
                f"{where}.tags: the Name tag comes from {where}.name; drop it from tags",
            )
        simple: dict[str, Callable[[Any, str], Any]] = {
            "state": lambda n, w: r.text(n, w, choices=INSTANCE_STATES),
            "instance_type": lambda n, w: r.text(
                n, w, pattern=_INSTANCE_TYPE, hint="e.g. t3.micro"
            ),
            "private_ip": lambda n, w: private_ipv4(r, n, w),
            "platform": lambda n, w: r.text(n, w, choices=PLATFORMS),
            "image_id": lambda n, w: r.text(n, w, pattern=_AMI, hint="e.g. ami-0123456789abcdef0"),
            "managed": r.boolean,
            "ping_status": lambda n, w: r.text(n, w, choices=PING_STATUSES),
            "agent_version": lambda n, w: r.text(n, w, pattern=_VERSION, hint="e.g. 3.3.0.0"),
            "platform_name": r.text,
            "platform_version": r.text,
        }
        for key, parse in simple.items():
            if key in fields:
                values[key] = parse(fields[key][1], f"{where}.{key}")
        _platform_defaults(values)
        name_node = fields["name"][1]
        if "count" not in fields:
            return [InstanceSpec(name=self._node_name(name_node, f"{where}.name"), **values)]
        count = int(r.number(fields["count"][1], f"{where}.count", 1, MAX_COUNT, integer=True))
        if "private_ip" in fields:
            raise r.fail(
                fields["private_ip"][1], f"{where}.private_ip cannot be combined with count"
            )
        template = r.text(name_node, f"{where}.name")
        if "{n" not in template:
            raise r.fail(
                name_node,
                f"{where}.name must contain {{n}} (e.g. bench-{{n:04d}}) when count is set",
            )
        specs = []
        for n in range(1, count + 1):
            try:
                name = template.format(n=n)
            except (KeyError, IndexError, ValueError) as exc:
                raise r.fail(
                    name_node, f"{where}.name {template!r} is not a valid template: {exc}"
                ) from None
            if name in self.node_names:
                raise r.fail(
                    name_node, f"{where}.name {template!r} makes {name!r}, which is already used"
                )
            self.node_names.add(name)
            specs.append(InstanceSpec(name=name, **values))
        return specs

    def _hybrid_nodes(self, node: Any) -> tuple[HybridNodeSpec, ...]:
        r = self.r
        out: list[HybridNodeSpec] = []
        for i, item in enumerate(r.sequence(node, "hybrid_nodes")):
            where = f"hybrid_nodes[{i}]"
            fields = r.mapping(item, where, _HYBRID_KEYS)
            if "name" not in fields:
                raise r.fail(item, f"{where} needs a name")
            name = self._node_name(fields["name"][1], f"{where}.name")
            region = self._region(fields, where)
            values: dict[str, Any] = {"name": name, "region": region}
            values["tags"] = r.tags(fields["tags"][1], f"{where}.tags") if "tags" in fields else {}
            simple: dict[str, Callable[[Any, str], Any]] = {
                "ping_status": lambda n, w: r.text(n, w, choices=PING_STATUSES),
                "ip_address": lambda n, w: str(ipv4(r, n, w)),
                "computer_name": r.text,
                "platform": lambda n, w: r.text(n, w, choices=PLATFORMS),
                "platform_name": r.text,
                "platform_version": r.text,
                "agent_version": lambda n, w: r.text(n, w, pattern=_VERSION, hint="e.g. 3.3.0.0"),
                "activation_id": r.text,
                "iam_role": r.text,
            }
            for key, parse in simple.items():
                if key in fields:
                    values[key] = parse(fields[key][1], f"{where}.{key}")
            seed = f"{self.account_id}/{region}/{name}"
            if "id" in fields:
                values["node_id"] = r.text(
                    fields["id"][1], f"{where}.id", pattern=_MI, hint="mi- and 17 hex digits"
                )
            else:
                values["node_id"] = "mi-" + hashlib.sha256(seed.encode()).hexdigest()[:17]
            if any(h.node_id == values["node_id"] for h in out):
                raise r.fail(
                    fields.get("id", fields["name"])[1],
                    f"{where}: node id {values['node_id']} is used twice",
                )
            values.setdefault("computer_name", f"{name}.localdomain")
            values.setdefault(
                "activation_id", str(uuid.uuid5(uuid.NAMESPACE_URL, "activation/" + seed))
            )
            _platform_defaults(values)
            out.append(HybridNodeSpec(**values))
        return tuple(out)

    def _groups(self, node: Any) -> tuple[GroupSpec, ...]:
        r = self.r
        out: list[GroupSpec] = []
        for i, item in enumerate(r.sequence(node, "resource_groups")):
            where = f"resource_groups[{i}]"
            fields = r.mapping(item, where, _GROUP_KEYS)
            if "name" not in fields:
                raise r.fail(item, f"{where} needs a name")
            name_node = fields["name"][1]
            name = r.text(
                name_node, f"{where}.name", pattern=_GROUP_NAME, hint="letters, digits and _.-"
            )
            if name.lower().startswith("aws"):
                raise r.fail(name_node, f"{where}.name must not start with AWS")
            region = self._region(fields, where)
            if any(g.name == name and g.region == region for g in out):
                raise r.fail(name_node, f"resource group {name!r} is defined twice in {region}")
            has_tags, has_stack = "tag_filters" in fields, "stack" in fields
            if has_tags == has_stack:
                raise r.fail(
                    item,
                    f"{where} needs exactly one of tag_filters (a tag query) "
                    "or stack (a CloudFormation stack)",
                )
            if has_stack:
                if "resource_types" in fields:
                    raise r.fail(
                        fields["resource_types"][1],
                        f"{where}.resource_types applies to tag_filters groups only",
                    )
                out.append(self._stack_group(fields["stack"][1], name, region, f"{where}.stack"))
                continue
            filters = self._tag_filters(fields["tag_filters"][1], f"{where}.tag_filters")
            types: tuple[str, ...] = ("AWS::AllSupported",)
            if "resource_types" in fields:
                type_node = fields["resource_types"][1]
                types = tuple(
                    r.text(t, f"{where}.resource_types[]", choices=GROUP_RESOURCE_TYPES)
                    for t in r.sequence(type_node, f"{where}.resource_types")
                )
                if not types:
                    raise r.fail(type_node, f"{where}.resource_types must list at least one type")
            out.append(
                GroupSpec(name=name, region=region, tag_filters=filters, resource_types=types)
            )
        return tuple(out)

    def _tag_filters(self, node: Any, where: str) -> tuple[TagFilter, ...]:
        import yaml

        r = self.r
        filters: list[TagFilter] = []
        for key, (_, value_node) in r.mapping(node, where, AnyKey()).items():
            if isinstance(value_node, yaml.SequenceNode):
                values = tuple(r.text(v, f"{where}.{key}[]") for v in value_node.value)
            elif r.is_null(value_node):
                values = ()
            else:
                values = (r.text(value_node, f"{where}.{key}"),)
            filters.append(TagFilter(key=key, values=values))
        if not 1 <= len(filters) <= 50:
            raise r.fail(node, f"{where} must have between 1 and 50 keys")
        return tuple(filters)

    def _stack_group(self, node: Any, group: str, region: str, where: str) -> GroupSpec:
        r = self.r
        fields = r.mapping(node, where, _STACK_KEYS)
        stack_name = group
        if "name" in fields:
            stack_name = r.text(
                fields["name"][1],
                f"{where}.name",
                pattern=_STACK_NAME,
                hint="a letter, then letters, digits and -",
            )
        elif not _STACK_NAME.match(group):
            raise r.fail(
                node, f"{where} needs a name: the group name {group!r} is not a valid stack name"
            )
        if "instances" not in fields:
            raise r.fail(node, f"{where} needs instances (the stack's EC2 instances)")
        instances = self._instances(fields["instances"][1], f"{where}.instances")
        for spec in instances:
            if spec.region != region:
                raise r.fail(
                    fields["instances"][1],
                    f"{where}: instance {spec.name!r} must be in the group's region {region}",
                )
        if not instances:
            raise r.fail(
                fields["instances"][1], f"{where}.instances must list at least one instance"
            )
        return GroupSpec(
            name=group,
            region=region,
            stack_name=stack_name,
            instances=instances,
            resource_types=("AWS::AllSupported",),
        )

    def _throttle(self, node: Any) -> TrailThrottle | None:
        r = self.r
        fields = r.mapping(node, "cloudtrail", _TRAIL_KEYS)
        enabled = (
            r.boolean(fields["throttle"][1], "cloudtrail.throttle")
            if "throttle" in fields
            else True
        )
        rate = (
            r.number(fields["rate"][1], "cloudtrail.rate", 0.01, 1000) if "rate" in fields else 2.0
        )
        burst = (
            int(r.number(fields["burst"][1], "cloudtrail.burst", 1, 1000, integer=True))
            if "burst" in fields
            else max(1, int(rate))
        )
        return TrailThrottle(rate=rate, burst=burst) if enabled else None


def _platform_defaults(values: dict[str, Any]) -> None:
    name, version = PLATFORM_DEFAULTS[values.get("platform", "Linux")]
    values.setdefault("platform_name", name)
    values.setdefault("platform_version", version)
    values.setdefault("agent_version", DEFAULT_AGENT_VERSION)
