"""Resource Groups ListGroupResources: evaluates a group's query over the region's EC2
instances and hybrid nodes (the resources ssmctl targets)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ssmctl.sandbox import moto_access
from ssmctl.sandbox.aws_errors import ApiError
from ssmctl.sandbox.paging import BadToken, keyset_page
from ssmctl.sandbox.request import CallContext, call_context, json_response
from ssmctl.sandbox.runtime import Runtime, current
from ssmctl.sandbox.ssm_nodes import managed_instance_arn

EC2_TYPE = "AWS::EC2::Instance"
HYBRID_TYPE = "AWS::SSM::ManagedInstance"
ALL_TYPES = "AWS::AllSupported"

Resource = tuple[str, str]
"""(ARN, resource type)."""


def _bad_request(message: str) -> ApiError:
    return ApiError("BadRequestException", message, 400)


def _tag_match(tags: Mapping[str, str], filters: Sequence[Mapping[str, Any]]) -> bool:
    for item in filters:
        key, values = str(item.get("Key")), item.get("Values") or []
        if key not in tags or (values and tags[key] not in values):
            return False
    return True


def _tag_query(ctx: CallContext, runtime: Runtime, query: Mapping[str, Any]) -> list[Resource]:
    types = set(query.get("ResourceTypeFilters") or [ALL_TYPES])
    filters = query.get("TagFilters") or []
    out: list[Resource] = []
    if types & {ALL_TYPES, EC2_TYPE}:
        for instance in moto_access.ec2_instances(ctx.account_id, ctx.region):
            if instance.state != "terminated" and _tag_match(instance.tags, filters):
                arn = f"arn:aws:ec2:{ctx.region}:{ctx.account_id}:instance/{instance.instance_id}"
                out.append((arn, EC2_TYPE))
    if types & {ALL_TYPES, HYBRID_TYPE} and ctx.account_id == runtime.account_id:
        for registration in runtime.nodes.in_region(ctx.region):
            tags = runtime.nodes.tags_of(registration.node_id)
            if registration.is_hybrid and _tag_match(tags, filters):
                out.append(
                    (
                        managed_instance_arn(ctx.region, ctx.account_id, registration.node_id),
                        HYBRID_TYPE,
                    )
                )
    return out


def _stack_query(
    ctx: CallContext, query: Mapping[str, Any]
) -> tuple[list[Resource], list[dict[str, str]]]:
    stack = str(query.get("StackIdentifier", ""))
    ids = moto_access.stack_instance_ids(ctx.account_id, ctx.region, stack)
    if ids is None:
        error = {
            "ErrorCode": "CLOUDFORMATION_STACK_NOT_EXISTING",
            "Message": f"Stack {stack} does not exist.",
        }
        return [], [error]
    types = set(query.get("ResourceTypeFilters") or [ALL_TYPES])
    if not types & {ALL_TYPES, EC2_TYPE}:
        return [], []
    live = {
        i.instance_id
        for i in moto_access.ec2_instances(ctx.account_id, ctx.region)
        if i.state != "terminated"
    }
    return [
        (f"arn:aws:ec2:{ctx.region}:{ctx.account_id}:instance/{i}", EC2_TYPE)
        for i in ids
        if i in live
    ], []


def _type_filter(params: Mapping[str, Any], query: Mapping[str, Any]) -> set[str] | None:
    filters = params.get("Filters") or []
    wanted: set[str] = set()
    for item in filters:
        if item.get("Name") != "resource-type":
            raise _bad_request(f"Filter name {item.get('Name')!r} is not valid; use resource-type.")
        values = item.get("Values") or []
        if not 1 <= len(values) <= 5:
            raise _bad_request("A resource-type filter takes between 1 and 5 values.")
        wanted.update(values)
    if not filters:
        return None
    declared = set(query.get("ResourceTypeFilters") or [ALL_TYPES])
    invalid = sorted(wanted - declared) if ALL_TYPES not in declared else []
    if invalid:
        raise _bad_request(
            "The resource types specified as filters in the request are not valid: "
            + ", ".join(invalid)
        )
    return wanted


def list_group_resources_handler(self: Any) -> tuple[str, dict[str, Any]]:
    ctx = call_context(self)
    runtime = current()
    params = ctx.params
    reference = params.get("Group") or params.get("GroupName")
    if not isinstance(reference, str) or not reference:
        raise _bad_request("Group is required.")
    limit = params.get("MaxResults", 50)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 50:
        raise _bad_request("MaxResults must be between 1 and 50.")
    group = moto_access.resource_group(ctx.account_id, ctx.region, reference)
    if group is None:
        raise ApiError(
            "NotFoundException", "One or more of the specified resources don't exist.", 404
        )
    wanted = _type_filter(params, group.query)
    errors: list[dict[str, str]] = []
    if group.query_type == "TAG_FILTERS_1_0":
        resources = _tag_query(ctx, runtime, group.query)
    elif group.query_type == "CLOUDFORMATION_STACK_1_0":
        resources, errors = _stack_query(ctx, group.query)
    else:
        resources = []
    if wanted is not None:
        resources = [r for r in resources if r[1] in wanted]
    resources.sort()
    query = {"group": group.arn, "types": sorted(wanted) if wanted is not None else None}
    after = None
    if params.get("NextToken"):
        try:
            after = runtime.codec.decode(str(params["NextToken"]), "ListGroupResources", query)
        except BadToken:
            raise _bad_request("The NextToken is not valid.") from None
    page, position = keyset_page(resources, lambda r: [r[0]], after, limit)
    identifiers = [{"ResourceArn": arn, "ResourceType": kind} for arn, kind in page]
    body: dict[str, Any] = {
        "Resources": [{"Identifier": i} for i in identifiers],
        "ResourceIdentifiers": identifiers,
        "QueryErrors": errors,
    }
    if position is not None:
        body["NextToken"] = runtime.codec.encode("ListGroupResources", query, position)
    return json_response(body, "application/json")


def group_member_ids(ctx: CallContext, runtime: Runtime, reference: str) -> list[str] | None:
    """The ids of a group's EC2 instances and hybrid nodes (Run Command's
    `resource-groups:Name` target); None when there is no such group."""
    group = moto_access.resource_group(ctx.account_id, ctx.region, reference)
    if group is None:
        return None
    if group.query_type == "TAG_FILTERS_1_0":
        resources = _tag_query(ctx, runtime, group.query)
    elif group.query_type == "CLOUDFORMATION_STACK_1_0":
        resources, _ = _stack_query(ctx, group.query)
    else:
        resources = []
    return sorted(arn.rsplit("/", 1)[-1] for arn, _ in resources)
