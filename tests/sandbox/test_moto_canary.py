"""Canary: the moto internals the sandbox relies on, checked one by one.

When moto changes one of them, the test for it fails with a message naming what changed
and which sandbox module to adapt. Everything here runs against moto itself (a scratch
account, a werkzeug test client), not against the sandbox, so the cause is unambiguous.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

SCRATCH = "999988887777"  # an account no sandbox uses
REGION = "us-east-1"
SUPPORTED = ((5, 2, 5), (5, 3, 0))  # keep in step with pyproject's moto[server] pin


def need(condition: object, what: str, adapt: str) -> None:
    """Fail with `moto changed: <what>; adapt <adapt>` unless `condition` holds."""
    if not condition:
        pytest.fail(f"moto changed: {what}; adapt {adapt}", pytrace=False)


def attribute(owner: Any, name: str, adapt: str) -> Any:
    need(hasattr(owner, name), f"{getattr(owner, '__name__', owner)!s} has no {name!r}", adapt)
    return getattr(owner, name)


def parameters(function: Callable[..., Any]) -> set[str]:
    return set(inspect.signature(function).parameters)


def test_moto_version_is_in_the_supported_range() -> None:
    import moto

    version = tuple(int(p) for p in moto.__version__.split(".")[:3])
    low, high = SUPPORTED
    need(
        low <= version < high,
        f"version {moto.__version__} is outside the range this canary was run against",
        "the pin in pyproject.toml after running tests/sandbox against it",
    )


def test_response_classes_and_the_actions_the_sandbox_adds() -> None:
    from moto.cloudtrail.responses import CloudTrailResponse
    from moto.core.responses import BaseResponse
    from moto.ec2.responses import EC2Response
    from moto.iam.responses import IamResponse
    from moto.resourcegroups.responses import ResourceGroupsResponse
    from moto.ssm.responses import SimpleSystemManagerResponse
    from moto.sts.responses import TokenResponse

    from ssmctl.sandbox import patches

    classes: tuple[type[Any], ...] = (
        SimpleSystemManagerResponse,
        CloudTrailResponse,
        ResourceGroupsResponse,
        EC2Response,
        TokenResponse,
    )
    for cls in classes:
        need(
            issubclass(cls, BaseResponse),
            f"{cls.__name__} no longer derives from BaseResponse",
            "patches.py",
        )
    lacking: list[tuple[type[BaseResponse], str, str]] = [
        (SimpleSystemManagerResponse, "describe_instance_information", "ssm_nodes.py"),
        (SimpleSystemManagerResponse, "get_connection_status", "ssm_nodes.py"),
        (SimpleSystemManagerResponse, "start_session", "ssm_sessions.py"),
        (SimpleSystemManagerResponse, "describe_sessions", "ssm_sessions.py"),
        (SimpleSystemManagerResponse, "terminate_session", "ssm_sessions.py"),
        (SimpleSystemManagerResponse, "resume_session", "ssm_sessions.py"),
        (CloudTrailResponse, "lookup_events", "cloudtrail_api.py"),
        (SimpleSystemManagerResponse, "list_command_invocations", "ssm_command_queries.py"),
        (SimpleSystemManagerResponse, "cancel_command", "ssm_commands.py"),
        (IamResponse, "simulate_principal_policy", "iam_api.py"),
        (IamResponse, "simulate_custom_policy", "iam_api.py"),
    ]
    for cls, action, module in lacking:
        need(
            patches.own_attribute(cls, action) is None,
            f"moto now implements {cls.__name__}.{action}",
            f"{module} (compare with moto's; the sandbox's replaces it)",
        )
    for name in ("add_tags_to_resource", "remove_tags_from_resource", "list_tags_for_resource"):
        attribute(SimpleSystemManagerResponse, name, "ssm_nodes.py (it wraps moto's tag handlers)")
    attribute(ResourceGroupsResponse, "list_group_resources", "groups_api.py")
    attribute(EC2Response, "describe_regions", "account_api.py")
    attribute(EC2Response, "error_on_dryrun", "account_api.py")
    attribute(TokenResponse, "assume_role", "account_api.py (it wraps AssumeRole)")


@pytest.fixture
def probe_app() -> Iterator[Callable[..., Any]]:
    """A werkzeug test client on moto's server app; probes added to moto are removed after."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.test import Client

    undo: list[Callable[[], None]] = []

    def put(owner: Any, name: str, value: Any) -> None:
        before = owner.__dict__.get(name, undo)
        setattr(owner, name, value)
        undo.append(
            lambda: delattr(owner, name) if before is undo else setattr(owner, name, before)
        )

    def client() -> Client:
        return Client(DomainDispatcherApplication(create_backend_app))

    client.put = put  # type: ignore[attr-defined]
    yield client
    for step in reversed(undo):
        step()


def _signed(service: str, target: str | None = None) -> dict[str, str]:
    credential = f"AKIAIOSFODNN7EXAMPLE/20250101/{REGION}/{service}/aws4_request"
    headers = {
        "Authorization": f"AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host, "
        "Signature=0",
        # awsJson services name the action in X-Amz-Target; rest-json ones in the path.
        "Content-Type": "application/x-amz-json-1.1" if target else "application/json",
    }
    if target:
        headers["X-Amz-Target"] = target
    return headers


def _json(response: Any) -> Any:
    try:
        return json.loads(response.data)
    except ValueError:
        return None


def test_actions_dispatch_to_methods_named_after_them(probe_app: Any) -> None:
    from moto.ssm.responses import SimpleSystemManagerResponse

    seen: dict[str, Any] = {}

    def describe_instance_properties(self: Any) -> tuple[str, dict[str, str]]:
        seen["environ"] = self.normalized_request.environ
        seen["region"], seen["body"] = self.region, self.body
        return json.dumps({"probe": True}), {"Content-Type": "application/x-amz-json-1.1"}

    probe_app.put(
        SimpleSystemManagerResponse, "describe_instance_properties", describe_instance_properties
    )
    response = probe_app().post(
        "/",
        headers=_signed("ssm", "AmazonSSM.DescribeInstanceProperties"),
        data='{"a": 1}',
        environ_overrides={"ssmctl.probe": "seen"},
    )
    need(
        response.status_code == 200 and _json(response) == {"probe": True},
        f"a method named after an action is no longer dispatched (got {response.status_code})",
        "patches.py: find moto's new way to add actions",
    )
    need(
        seen["environ"].get("ssmctl.probe") == "seen",
        "handlers no longer see the WSGI environ via self.normalized_request",
        "request.py",
    )
    need(
        seen["region"] == REGION and json.loads(seen["body"]) == {"a": 1},
        "self.region / self.body changed",
        "request.py",
    )


def test_errors_raised_from_handlers_keep_their_code_and_status(probe_app: Any) -> None:
    from moto.core.exceptions import JsonRESTError
    from moto.ssm.responses import SimpleSystemManagerResponse
    from werkzeug.exceptions import HTTPException

    from ssmctl.sandbox.aws_errors import ApiError, QueryApiError

    need(
        issubclass(JsonRESTError, HTTPException),
        "JsonRESTError is no longer a werkzeug HTTPException",
        "aws_errors.py",
    )
    need(issubclass(QueryApiError, HTTPException), "QueryApiError base changed", "aws_errors.py")

    def describe_instance_properties(self: Any) -> None:
        raise ApiError("ProbeFailure", "probe went wrong", 418)

    probe_app.put(
        SimpleSystemManagerResponse, "describe_instance_properties", describe_instance_properties
    )
    response = probe_app().post(
        "/", headers=_signed("ssm", "AmazonSSM.DescribeInstanceProperties"), data="{}"
    )
    need(
        response.status_code == 418
        and _json(response) == {"__type": "ProbeFailure", "message": "probe went wrong"}
        and response.headers.get("X-Amzn-ErrorType") == "ProbeFailure",
        "an HTTPException raised by a handler is answered differently "
        f"({response.status_code} {response.data!r})",
        "aws_errors.py",
    )


def test_rest_routes_can_be_added_before_the_app_is_built(probe_app: Any) -> None:
    from moto.resourcegroups import urls
    from moto.resourcegroups.responses import ResourceGroupsResponse

    from ssmctl.sandbox.patches import LIST_GROUP_RESOURCES_ROUTE

    paths = attribute(urls, "url_paths", "patches.py (the ListGroupResources route)")
    need(isinstance(paths, dict), "resourcegroups url_paths is not a dict", "patches.py")

    def list_group_resources(self: Any) -> tuple[str, dict[str, str]]:
        return json.dumps({"group": json.loads(self.body)["Group"]}), {
            "Content-Type": "application/json"
        }

    probe_app.put(ResourceGroupsResponse, "list_group_resources", list_group_resources)
    added = LIST_GROUP_RESOURCES_ROUTE not in paths
    if added:  # no sandbox running: add the route as patches.py does
        paths[LIST_GROUP_RESOURCES_ROUTE] = ResourceGroupsResponse.dispatch
    try:
        body = '{"Group": "g"}'
        response = probe_app().post(
            "/list-group-resources", headers=_signed("resource-groups"), data=body
        )
    finally:
        if added:
            del paths[LIST_GROUP_RESOURCES_ROUTE]
    need(
        response.status_code == 200 and _json(response) == {"group": "g"},
        f"an added url_paths route no longer reaches the response class ({response.status_code})",
        "patches.py / groups_api.py",
    )


def test_server_pieces() -> None:
    from moto.core.base_backend import BackendDict
    from moto.moto_server import werkzeug_app
    from werkzeug.serving import WSGIRequestHandler

    for name in ("DomainDispatcherApplication", "create_backend_app", "MotoRequestHandler"):
        attribute(werkzeug_app, name, "server.py")
    need(
        issubclass(werkzeug_app.MotoRequestHandler, WSGIRequestHandler),
        "MotoRequestHandler base changed",
        "server.py",
    )
    need(
        callable(getattr(BackendDict, "reset", None)),
        "BackendDict.reset is gone",
        "moto_access.reset",
    )


def test_iam_and_sts_state() -> None:
    from moto.sts.models import sts_backends

    from ssmctl.sandbox import moto_access

    arn, user_id = moto_access.create_user(SCRATCH, "canary-user")
    need(
        arn == f"arn:aws:iam::{SCRATCH}:user/canary-user",
        "IAM user ARNs changed",
        "moto_access.create_user",
    )
    key_id, _ = moto_access.create_access_key(SCRATCH, "canary-user")
    key = moto_access.access_key(SCRATCH, key_id)
    need(
        key is not None and key.user_name == "canary-user" and key.active and key.role_arn is None,
        "iam access_keys entries changed",
        "moto_access.access_key",
    )
    need(
        moto_access.user_identity(SCRATCH, "canary-user") == (arn, user_id),
        "iam users/User.id changed",
        "moto_access.user_identity",
    )
    role_arn = moto_access.create_role(SCRATCH, "canary-role")
    role = moto_access.role_identity(SCRATCH, role_arn)
    need(
        role is not None and role[0] == "canary-role" and role[1].startswith("AROA"),
        "iam roles changed",
        "moto_access.role_identity",
    )
    assumed = sts_backends[SCRATCH]["aws"].assume_role(
        region_name=REGION,
        role_session_name="canary",
        role_arn=role_arn,
        policy="",
        duration=900,
        external_id="",
    )
    session = moto_access.role_session(SCRATCH, assumed.access_key_id)
    need(
        session is not None
        and session.session_name == "canary"
        and session.session_token == assumed.session_token,
        "sts assumed_roles entries changed",
        "moto_access.role_session",
    )
    temp = moto_access.access_key(SCRATCH, assumed.access_key_id)
    need(
        temp is not None and temp.role_arn == role_arn,
        "AssumeRole keys no longer carry role_arn",
        "identity.py",
    )


def test_ec2_state() -> None:
    from ssmctl.sandbox import moto_access

    ids = moto_access.launch_instances(
        SCRATCH,
        REGION,
        count=2,
        instance_type="t3.micro",
        windows=True,
        image_id=None,
        private_ip=None,
        tags=[{"Name": "a"}, {"Name": "b"}],
    )
    seen = {i.instance_id: i for i in moto_access.ec2_instances(SCRATCH, REGION)}
    need(set(ids) <= set(seen), "ec2 reservations/instances changed", "moto_access.ec2_instances")
    first = seen[ids[0]]
    need(
        first.state == "running"
        and first.private_ip
        and first.windows
        and first.tags == {"Name": "a"},
        "Instance state/private_ip/platform or backend tags changed",
        "moto_access._view",
    )
    moto_access.stop_instances(SCRATCH, REGION, [ids[0]])
    stopped = moto_access.ec2_instance(SCRATCH, REGION, ids[0])
    need(
        stopped is not None and stopped.state == "stopped",
        "stop_instances changed",
        "moto_access.stop_instances",
    )
    fixed = moto_access.launch_instances(
        SCRATCH,
        REGION,
        count=1,
        instance_type="t3.micro",
        windows=False,
        image_id=None,
        private_ip="10.9.9.9",
        tags=[{}],
    )
    launched = moto_access.ec2_instance(SCRATCH, REGION, fixed[0])
    need(
        launched is not None and launched.private_ip == "10.9.9.9",
        "run_instances private_ip changed",
        "moto_access.launch_instances",
    )


def test_cloudformation_and_resource_groups_state() -> None:
    from ssmctl.sandbox import moto_access

    template = json.dumps(
        {
            "Resources": {
                "Probe": {
                    "Type": "AWS::EC2::Instance",
                    "Properties": {"ImageId": moto_access.LINUX_IMAGE, "InstanceType": "t3.micro"},
                }
            }
        }
    )
    stack_arn, physical = moto_access.create_stack(SCRATCH, REGION, "canary", template)
    need(
        set(physical) == {"Probe"} and physical["Probe"].startswith("i-"),
        "stack_resources logical/physical ids changed",
        "moto_access.create_stack",
    )
    need(
        moto_access.stack_instance_ids(SCRATCH, REGION, stack_arn) == [physical["Probe"]],
        "stacks/cloudformation_type changed",
        "moto_access.stack_instance_ids",
    )
    query = {"ResourceTypeFilters": ["AWS::AllSupported"], "StackIdentifier": stack_arn}
    group_arn = moto_access.create_group(
        SCRATCH, REGION, "canary-group", "CLOUDFORMATION_STACK_1_0", query
    )
    for reference in ("canary-group", group_arn):
        group = moto_access.resource_group(SCRATCH, REGION, reference)
        need(
            group is not None
            and group.query == query
            and group.query_type == "CLOUDFORMATION_STACK_1_0",
            "resource group storage changed",
            "moto_access.resource_group",
        )


def test_ssm_documents_state() -> None:
    from ssmctl.sandbox import moto_access

    moto_access.install_owned_document(
        SCRATCH,
        REGION,
        "AWS-CanaryProbe",
        {"schemaVersion": "1.0", "sessionType": "Port", "parameters": {}},
    )
    document = moto_access.ssm_document(SCRATCH, REGION, "AWS-CanaryProbe")
    need(
        document is not None
        and document.owner == "Amazon"
        and document.document_type == "Session"
        and document.latest_content["sessionType"] == "Port",
        "ssm Document/Documents models or backend._documents changed",
        "moto_access.install_owned_document / ssm_document",
    )


def test_tagging_api_walks_ssm_backends() -> None:
    from moto.core.resource_tagging import TaggableResourcesMixin, TaggedResource
    from moto.resourcegroupstaggingapi.models import resourcegroupstaggingapi_backends
    from moto.ssm.models import SimpleSystemManagerBackend

    need(
        issubclass(SimpleSystemManagerBackend, TaggableResourcesMixin),
        "the SSM backend left the tagging API",
        "ssm_nodes.iter_tagged_resources",
    )
    need(
        {"arn", "tags", "resource_type"} <= parameters(TaggedResource),
        "TaggedResource fields changed",
        "ssm_nodes.iter_tagged_resources",
    )
    for name in ("iter_tagged_resources", "tag_resource", "untag_resource"):
        attribute(SimpleSystemManagerBackend, name, "ssm_nodes.py")
    original = SimpleSystemManagerBackend.iter_tagged_resources
    arn = f"arn:aws:ssm:{REGION}:{SCRATCH}:managed-instance/mi-0123456789abcdef0"

    def probe(self: Any) -> Iterator[TaggedResource]:
        yield TaggedResource(arn=arn, tags={"Canary": "yes"}, resource_type="ssm:managed-instance")

    SimpleSystemManagerBackend.iter_tagged_resources = probe  # type: ignore[method-assign]
    try:
        from moto.ssm.models import ssm_backends

        ssm_backends[SCRATCH][REGION]  # the tagging API walks only backends in use
        _, found = resourcegroupstaggingapi_backends[SCRATCH][REGION].get_resources(
            resource_type_filters=["ssm:managed-instance"]
        )
    finally:
        SimpleSystemManagerBackend.iter_tagged_resources = original  # type: ignore[method-assign]
    need(
        [r.arn for r in found] == [arn],
        "GetResources no longer gathers iter_tagged_resources",
        "ssm_nodes.iter_tagged_resources",
    )


def test_iam_policy_state() -> None:
    from ssmctl.sandbox import moto_access

    statement = '{"Effect": "Allow", "Action": "*", "Resource": "*"}'
    document = f'{{"Version": "2012-10-17", "Statement": [{statement}]}}'
    user_arn, _ = moto_access.create_user(SCRATCH, "canary-policy-user")
    role_arn = moto_access.create_role(SCRATCH, "canary-policy-role")
    managed = moto_access.create_managed_policy(SCRATCH, "canary-managed", document)
    need(
        managed == f"arn:aws:iam::{SCRATCH}:policy/canary-managed",
        "managed policy ARNs changed",
        "moto_access.create_managed_policy",
    )
    moto_access.put_inline_policy(SCRATCH, "user", "canary-policy-user", "inline", document)
    moto_access.attach_managed_policy(SCRATCH, "user", "canary-policy-user", managed)
    moto_access.attach_managed_policy(SCRATCH, "role", "canary-policy-role", managed)
    found = moto_access.principal_policies(SCRATCH, user_arn)
    need(
        found is not None
        and [(p.policy_id, p.policy_type, p.document) for p in found]
        == [("inline", "user", document), ("canary-managed", "user-managed", document)],
        f"users' inline/managed policies are kept differently ({found})",
        "moto_access.principal_policies",
    )
    roles = moto_access.principal_policies(SCRATCH, role_arn)
    need(
        roles is not None and [p.policy_id for p in roles] == ["canary-managed"],
        "roles' managed policies are kept differently",
        "moto_access.principal_policies",
    )
