"""SSM's managed-node APIs: DescribeInstanceInformation, GetConnectionStatus, node tags.

Each `*_handler` function becomes a method of moto's SSM response class (patches.py);
moto dispatches an action to the method named after it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

from ssmctl.sandbox import moto_access
from ssmctl.sandbox.aws_errors import ApiError, validation
from ssmctl.sandbox.fleet import PING_STATUSES, PLATFORMS
from ssmctl.sandbox.nodes import EC2_INSTANCE, MANAGED_INSTANCE, NodeView, ec2_computer_name
from ssmctl.sandbox.paging import BadToken, keyset_page
from ssmctl.sandbox.request import call_context, int_param, json_response
from ssmctl.sandbox.runtime import Runtime, current

FILTER_KEYS = (
    "InstanceIds",
    "AgentVersion",
    "PingStatus",
    "PlatformTypes",
    "ActivationIds",
    "IamRole",
    "ResourceType",
    "AssociationStatus",
)
# Filter values that must come from a closed set.
_VALUE_SETS = {
    "PingStatus": PING_STATUSES,
    "PlatformTypes": PLATFORMS,
    "ResourceType": (EC2_INSTANCE, MANAGED_INSTANCE),
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def managed_nodes(runtime: Runtime, account_id: str, region: str) -> list[NodeView]:
    """The nodes SSM sees in a region now, by node id: registered EC2 instances that are
    running, and hybrid nodes."""
    if account_id != runtime.account_id:
        return []
    registrations = runtime.nodes.in_region(region)
    views: list[NodeView] = []
    ec2 = {r.node_id: r for r in registrations if not r.is_hybrid}
    if ec2:
        for instance in moto_access.ec2_instances(account_id, region):
            registration = ec2.get(instance.instance_id)
            if registration is not None and instance.state == "running":
                name = ec2_computer_name(instance.private_ip, region)
                views.append(NodeView(registration, instance.private_ip, name, instance.tags))
    views.extend(
        NodeView(r, r.ip_address, r.computer_name, runtime.nodes.tags_of(r.node_id))
        for r in registrations
        if r.is_hybrid
    )
    views.sort(key=lambda v: v.node_id)
    return views


def node_exists(runtime: Runtime, account_id: str, region: str, node_id: str) -> bool:
    """A node id names something real here: a non-terminated instance or a hybrid node."""
    if account_id != runtime.account_id:
        return False
    if node_id.startswith("mi-"):
        registration = runtime.nodes.get(region, node_id)
        return registration is not None and registration.is_hybrid
    instance = moto_access.ec2_instance(account_id, region, node_id)
    return instance is not None and instance.state not in ("terminated", "shutting-down")


def _filters(params: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """The request's filters as (key, values), checked as AWS checks them."""
    legacy = params.get("InstanceInformationFilterList") or []
    modern = params.get("Filters") or []
    if legacy and modern:
        raise ApiError(
            "ValidationException",
            "InstanceInformationFilterList and Filters cannot be used in the same request; "
            "use Filters.",
        )
    out: list[tuple[str, list[str]]] = []
    for index, item in enumerate(legacy, 1):
        key, values = item.get("key"), item.get("valueSet")
        if key not in FILTER_KEYS:
            enum = ", ".join(FILTER_KEYS)
            raise validation(
                f"instanceInformationFilterList.{index}.member.key",
                key,
                f"Member must satisfy enum value set: [{enum}]",
            )
        out.append((key, _values(values, f"instanceInformationFilterList.{index}.member.valueSet")))
    for index, item in enumerate(modern, 1):
        key, values = item.get("Key"), item.get("Values")
        if not isinstance(key, str) or not (
            key in FILTER_KEYS or key == "tag-key" or (key.startswith("tag:") and len(key) > 4)
        ):
            raise ApiError("InvalidFilterKey", f"The filter key {key!r} is not valid.")
        out.append((key, _values(values, f"filters.{index}.member.values")))
    kinds = {key.startswith("tag") for key, _ in out}
    if len(kinds) > 1:
        raise ApiError(
            "InvalidFilterKey",
            "Tag filters (tag:<key>, tag-key) cannot be combined with other filter keys.",
        )
    for key, values in out:
        allowed = _VALUE_SETS.get(key)
        bad = [v for v in values if allowed is not None and v not in allowed]
        if bad:
            raise ApiError(
                "InvalidInstanceInformationFilterValue",
                f"The filter value {bad[0]!r} is not valid for {key}; "
                f"use one of {', '.join(allowed or ())}.",
            )
    return out


def _values(values: object, field: str) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise validation(field, values, "Member must be a list of strings")
    if not values:
        raise validation(field, "[]", "Member must have length greater than or equal to 1")
    if len(values) > 100:
        raise validation(
            field, f"[{len(values)} values]", "Member must have length less than or equal to 100"
        )
    return values


def _matches(view: NodeView, key: str, values: list[str]) -> bool:
    reg = view.registration
    if key == "tag-key":
        return any(v in view.tags for v in values)
    if key.startswith("tag:"):
        return view.tags.get(key[4:]) in values
    field = {
        "InstanceIds": reg.node_id,
        "AgentVersion": reg.agent_version,
        "PingStatus": reg.ping_status,
        "PlatformTypes": reg.platform_type,
        "ActivationIds": reg.activation_id,
        "IamRole": reg.iam_role,
        "ResourceType": reg.resource_type,
        "AssociationStatus": reg.association_status,
    }[key]
    return field in values


def describe_instance_information_handler(self: Any) -> tuple[str, dict[str, Any]]:
    ctx = call_context(self)
    runtime = current()
    params = ctx.params
    filters = _filters(params)
    limit = int_param(params, "MaxResults", "maxResults", default=10, low=5, high=50)
    for key, values in filters:
        if key == "InstanceIds":
            for node_id in values:
                if not node_exists(runtime, ctx.account_id, ctx.region, node_id):
                    raise ApiError(
                        "InvalidInstanceId",
                        f"Instance {node_id} is not valid: it does not exist in {ctx.region} "
                        f"or does not belong to account {ctx.account_id}.",
                    )
    query = {"filters": filters}
    after = None
    token = params.get("NextToken")
    if token:
        try:
            after = runtime.codec.decode(str(token), "DescribeInstanceInformation", query)
        except BadToken:
            raise ApiError("InvalidNextToken", "The specified token is not valid.") from None
    views = [
        v
        for v in managed_nodes(runtime, ctx.account_id, ctx.region)
        if all(_matches(v, key, values) for key, values in filters)
    ]
    page, position = keyset_page(views, lambda v: [v.node_id], after, limit)
    now = _now()
    body: dict[str, Any] = {"InstanceInformationList": [v.to_api(now) for v in page]}
    if position is not None:
        body["NextToken"] = runtime.codec.encode("DescribeInstanceInformation", query, position)
    return json_response(body)


def get_connection_status_handler(self: Any) -> tuple[str, dict[str, Any]]:
    ctx = call_context(self)
    target = ctx.params.get("Target")
    if not isinstance(target, str) or not 1 <= len(target) <= 400:
        raise validation("target", target, "Member must have length between 1 and 400")
    online = any(
        v.node_id == target and v.registration.ping_status == "Online"
        for v in managed_nodes(current(), ctx.account_id, ctx.region)
    )
    return json_response({"Target": target, "Status": "connected" if online else "notconnected"})


# --- ManagedInstance tags: moto rejects the resource type, the sandbox keeps them --------


def _hybrid_node(self: Any, params: dict[str, Any]) -> str:
    ctx = call_context(self)
    node_id = params.get("ResourceId")
    registration = current().nodes.get(ctx.region, str(node_id))
    if registration is None or not registration.is_hybrid:
        raise ApiError(
            "InvalidResourceId",
            f"Invalid Resource Id: {node_id} is not a managed node in {ctx.region}.",
        )
    return registration.node_id


def _body(self: Any) -> dict[str, Any]:
    try:
        params = json.loads(self.body or "{}")
    except ValueError:
        return {}
    return params if isinstance(params, dict) else {}


Handler = Callable[[Any], Any]


def add_tags_to_resource(original: Handler) -> Handler:
    def add_tags_to_resource(self: Any) -> Any:
        params = _body(self)
        if params.get("ResourceType") != MANAGED_INSTANCE:
            return original(self)
        node_id = _hybrid_node(self, params)
        tags = {str(t.get("Key")): str(t.get("Value", "")) for t in params.get("Tags") or []}
        nodes = current().nodes
        if len(set(nodes.tags_of(node_id)) | set(tags)) > 50:
            raise ApiError("TooManyTagsError", "A managed node can have at most 50 tags.")
        if any(k.lower().startswith("aws:") for k in tags):
            raise ApiError("InvalidParameterValue", "Tag keys must not start with aws:")
        nodes.tag(node_id, tags)
        return json_response({})

    return add_tags_to_resource


def remove_tags_from_resource(original: Handler) -> Handler:
    def remove_tags_from_resource(self: Any) -> Any:
        params = _body(self)
        if params.get("ResourceType") != MANAGED_INSTANCE:
            return original(self)
        node_id = _hybrid_node(self, params)
        current().nodes.untag(node_id, [str(k) for k in params.get("TagKeys") or []])
        return json_response({})

    return remove_tags_from_resource


def list_tags_for_resource(original: Handler) -> Handler:
    def list_tags_for_resource(self: Any) -> Any:
        params = _body(self)
        if params.get("ResourceType") != MANAGED_INSTANCE:
            return original(self)
        tags = current().nodes.tags_of(_hybrid_node(self, params))
        return json_response({"TagList": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]})

    return list_tags_for_resource


# --- Resource Groups Tagging API: hybrid nodes as ssm:managed-instance ----------------


def managed_instance_arn(region: str, account_id: str, node_id: str) -> str:
    return f"arn:aws:ssm:{region}:{account_id}:managed-instance/{node_id}"


def iter_tagged_resources(
    original: Callable[[Any], Iterator[Any]],
) -> Callable[[Any], Iterator[Any]]:
    def iter_tagged_resources(self: Any) -> Iterator[Any]:
        from moto.core.resource_tagging import TaggedResource

        yield from original(self)
        runtime = current()
        if self.account_id != runtime.account_id:
            return
        for registration in runtime.nodes.in_region(self.region_name):
            if registration.is_hybrid:
                yield TaggedResource(
                    arn=managed_instance_arn(
                        self.region_name, self.account_id, registration.node_id
                    ),
                    tags=runtime.nodes.tags_of(registration.node_id),
                    resource_type="ssm:managed-instance",
                )

    return iter_tagged_resources


def _node_from_arn(self: Any, arn: str) -> str | None:
    prefix = f"arn:aws:ssm:{self.region_name}:{self.account_id}:managed-instance/"
    if not arn.startswith(prefix):
        return None
    registration = current().nodes.get(self.region_name, arn[len(prefix) :])
    return registration.node_id if registration is not None and registration.is_hybrid else None


def tag_resource(original: Callable[..., None]) -> Callable[..., None]:
    def tag_resource(self: Any, arn: str, tags: dict[str, str]) -> None:
        node_id = _node_from_arn(self, arn)
        if node_id is None:
            original(self, arn, tags)
            return
        current().nodes.tag(node_id, tags)

    return tag_resource


def untag_resource(original: Callable[..., None]) -> Callable[..., None]:
    def untag_resource(self: Any, arn: str, tag_keys: list[str]) -> None:
        node_id = _node_from_arn(self, arn)
        if node_id is None:
            original(self, arn, tag_keys)
            return
        current().nodes.untag(node_id, tag_keys)

    return untag_resource
