"""Account-level answers: EC2 DescribeRegions (the fleet's enabled regions) and the
check that sts AssumeRole names a role that exists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

from ssmctl.sandbox import moto_access
from ssmctl.sandbox.aws_errors import QueryApiError
from ssmctl.sandbox.fleet import known_regions
from ssmctl.sandbox.identity import Caller
from ssmctl.sandbox.request import CALLER_KEY, REQUEST_ID_KEY
from ssmctl.sandbox.runtime import current

_EC2_NS = "http://ec2.amazonaws.com/doc/2016-11-15/"


def describe_regions_handler(self: Any) -> tuple[str, dict[str, Any]]:
    """The account's enabled regions; with AllRegions, the others as not-opted-in."""
    self.error_on_dryrun()
    enabled = current().fleet.regions
    names = self._get_param("RegionNames", []) or []
    everything = str(self._get_param("AllRegions", "false")).lower() == "true"
    regions = sorted(known_regions() | set(enabled)) if everything else list(enabled)
    rows = [
        (name, "opt-in-not-required" if name in enabled else "not-opted-in")
        for name in regions
        if not names or name in names
    ]
    for item in self._get_param("Filters", []) or []:
        values = item.get("Values") or []
        column = {"region-name": 0, "opt-in-status": 1}.get(item.get("Name"))
        if column is not None:
            rows = [row for row in rows if row[column] in values]
        elif item.get("Name") == "endpoint":
            rows = [row for row in rows if f"ec2.{row[0]}.amazonaws.com" in values]
    items = "".join(
        f"<item><regionName>{escape(name)}</regionName>"
        f"<regionEndpoint>ec2.{escape(name)}.amazonaws.com</regionEndpoint>"
        f"<optInStatus>{status}</optInStatus></item>"
        for name, status in rows
    )
    request_id = escape(str(self.normalized_request.environ.get(REQUEST_ID_KEY, "")))
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<DescribeRegionsResponse xmlns="{_EC2_NS}">'
        f"<requestId>{request_id}</requestId><regionInfo>{items}</regionInfo></DescribeRegionsResponse>"
    )
    return body, {"Content-Type": "text/xml;charset=UTF-8"}


def assume_role(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """moto lets anyone assume any ARN; AWS refuses a role that does not exist."""

    def assume_role(self: Any) -> Any:
        role_arn = str(self._get_param("RoleArn") or "")
        environ = self.normalized_request.environ
        if moto_access.role_identity(current().account_id, role_arn) is None:
            caller = environ.get(CALLER_KEY)
            who = caller.arn if isinstance(caller, Caller) else "anonymous"
            raise QueryApiError(
                "AccessDenied",
                f"User: {who} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
                403,
                str(environ.get(REQUEST_ID_KEY, "")),
            )
        return original(self)

    return assume_role
