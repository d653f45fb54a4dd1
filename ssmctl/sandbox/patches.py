"""Teaching moto what the sandbox adds, through moto's own extension points.

- A method named after an action (snake_case) on a service's response class is what
  moto dispatches that action to, so adding one implements an action.
- Wrapping an existing method keeps moto's behaviour for everything the sandbox does not
  take over (e.g. tags of documents stay moto's; tags of hybrid nodes are the sandbox's).
- A REST route is added to a service's `url_paths` before the server app is built.

`install()` applies all of it while a sandbox runs and `uninstall()` puts moto back, so
`mock_aws` users in the same process meet plain moto afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

_MISSING = object()
_saved: list[tuple[Any, str, object]] = []
_routes: list[tuple[dict[str, Any], str]] = []
_lock = threading.Lock()
LIST_GROUP_RESOURCES_ROUTE = "{0}/list-group-resources$"


def _put(cls: Any, name: str, function: Callable[..., Any]) -> None:
    _saved.append((cls, name, cls.__dict__.get(name, _MISSING)))
    setattr(cls, name, function)


def _wrap(cls: Any, name: str, wrapper: Callable[[Any], Callable[..., Any]]) -> None:
    _put(cls, name, wrapper(getattr(cls, name)))


def install() -> None:
    """Patch moto for the sandbox (idempotent)."""
    from moto.cloudtrail.responses import CloudTrailResponse
    from moto.ec2.responses import EC2Response
    from moto.iam.responses import IamResponse
    from moto.resourcegroups import urls as resource_group_urls
    from moto.resourcegroups.responses import ResourceGroupsResponse
    from moto.ssm.models import SimpleSystemManagerBackend
    from moto.ssm.responses import SimpleSystemManagerResponse
    from moto.sts.responses import TokenResponse

    from ssmctl.sandbox import (
        account_api,
        cloudtrail_api,
        groups_api,
        iam_api,
        ssm_nodes,
        ssm_sessions,
    )
    from ssmctl.sandbox.iam_enforce import guarded
    from ssmctl.sandbox.ssm_command_queries import (
        get_command_invocation_handler,
        list_command_invocations_handler,
        list_commands_handler,
    )
    from ssmctl.sandbox.ssm_commands import cancel_command_handler, send_command_handler

    with _lock:
        if _saved:
            return
        ssm = SimpleSystemManagerResponse
        info = guarded(
            "ssm:DescribeInstanceInformation", ssm_nodes.describe_instance_information_handler
        )
        _put(ssm, "describe_instance_information", info)
        status = guarded("ssm:GetConnectionStatus", ssm_nodes.get_connection_status_handler)
        _put(ssm, "get_connection_status", status)
        _put(ssm, "start_session", ssm_sessions.start_session_handler)
        listing = guarded("ssm:DescribeSessions", ssm_sessions.describe_sessions_handler)
        _put(ssm, "describe_sessions", listing)
        _put(ssm, "terminate_session", ssm_sessions.terminate_session_handler)
        _put(ssm, "resume_session", ssm_sessions.resume_session_handler)
        _put(ssm, "send_command", send_command_handler)
        _put(ssm, "cancel_command", cancel_command_handler)
        _put(ssm, "list_commands", list_commands_handler)
        _put(ssm, "list_command_invocations", list_command_invocations_handler)
        _put(ssm, "get_command_invocation", get_command_invocation_handler)
        _wrap(ssm, "add_tags_to_resource", ssm_nodes.add_tags_to_resource)
        _wrap(ssm, "remove_tags_from_resource", ssm_nodes.remove_tags_from_resource)
        _wrap(ssm, "list_tags_for_resource", ssm_nodes.list_tags_for_resource)
        backend = SimpleSystemManagerBackend
        _wrap(backend, "iter_tagged_resources", ssm_nodes.iter_tagged_resources)
        _wrap(backend, "tag_resource", ssm_nodes.tag_resource)
        _wrap(backend, "untag_resource", ssm_nodes.untag_resource)
        _put(CloudTrailResponse, "lookup_events", cloudtrail_api.lookup_events_handler)
        _put(
            ResourceGroupsResponse, "list_group_resources", groups_api.list_group_resources_handler
        )
        _put(EC2Response, "describe_regions", account_api.describe_regions_handler)
        _wrap(TokenResponse, "assume_role", account_api.assume_role)
        _put(IamResponse, "simulate_principal_policy", iam_api.simulate_principal_policy_handler)
        _put(IamResponse, "simulate_custom_policy", iam_api.simulate_custom_policy_handler)
        paths = resource_group_urls.url_paths
        if LIST_GROUP_RESOURCES_ROUTE not in paths:
            paths[LIST_GROUP_RESOURCES_ROUTE] = ResourceGroupsResponse.dispatch
            _routes.append((paths, LIST_GROUP_RESOURCES_ROUTE))


def uninstall() -> None:
    """Restore every patched moto class and route."""
    with _lock:
        while _saved:
            cls, name, original = _saved.pop()
            if original is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, original)
        while _routes:
            paths, route = _routes.pop()
            paths.pop(route, None)


def installed() -> bool:
    return bool(_saved)


def own_attribute(cls: Any, name: str) -> object | None:
    """What `cls` itself defines as `name` in moto, looking past the sandbox's patches."""
    with _lock:
        for owner, patched, original in _saved:
            if owner is cls and patched == name:
                return None if original is _MISSING else original
    found: object | None = cls.__dict__.get(name)
    return found
