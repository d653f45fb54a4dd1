"""`ssh_config` Host blocks that reach instances through `ssmctl proxy` (ssh, scp, rsync).

Every value written comes from AWS (Name tags, ids) or the command line and could carry
ssh_config syntax, so nothing is written raw: host aliases keep only letters, digits,
`.`, `_` and `-`; ProxyCommand arguments are quoted for the shell ssh runs them with and
have `%` doubled (ssh expands `%` tokens); comments are made inert; and the few values
that cannot be made safe (a line break in a profile name) are refused.
"""

from __future__ import annotations

import collections
import re
import shlex
from collections.abc import Sequence

from ssmctl.errors import UsageError
from ssmctl.models import Instance
from ssmctl.sanitize import terminal_safe
from ssmctl.targets import is_instance_id

_ALIAS_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_USER = re.compile(r"^[A-Za-z0-9._][A-Za-z0-9._@-]*$")


def host_alias(name: str) -> str:
    """A Name tag as an ssh Host alias ('' when nothing usable is left)."""
    return _ALIAS_UNSAFE.sub("-", name).strip("-.")[:64]


def _argument(value: str, what: str) -> str:
    if any(c in value for c in "\r\n\0"):
        raise UsageError(f"{what} contains a line break; it cannot go into ssh_config")
    return shlex.quote(value).replace("%", "%%")


def host_blocks(
    instances: Sequence[Instance],
    *,
    command: str = "ssmctl",
    profile: str | None = None,
    endpoint_url: str | None = None,
    user: str | None = None,
) -> str:
    """One Host block per instance: `Host <name> <id>`, HostName, User, ProxyCommand.

    A Name shared by several instances is left out of their aliases (ssh would always
    pick the first block); the ids still work.
    """
    if user is not None and not _USER.match(user):
        raise UsageError(f"--user {user!r} is not a valid user name")
    aliases = {i.instance_id: host_alias(i.name) for i in instances}
    counts = collections.Counter(a for a in aliases.values() if a)
    blocks = []
    for instance in sorted(instances, key=lambda i: (aliases[i.instance_id], i.instance_id)):
        if not is_instance_id(instance.instance_id):
            continue  # not an id AWS hands out: nothing to write safely
        alias = aliases[instance.instance_id]
        patterns = [alias] if alias and counts[alias] == 1 and alias != instance.instance_id else []
        patterns.append(instance.instance_id)
        proxy = [
            _argument(command, "--command"),
            "proxy",
            instance.instance_id,
            "--region",
            _argument(instance.region, "the region"),
        ]
        if profile:
            proxy += ["--profile", _argument(profile, "the profile")]
        if endpoint_url:
            proxy += ["--endpoint-url", _argument(endpoint_url, "the endpoint URL")]
        proxy += ["--port", "%p"]
        comment = terminal_safe(f"{instance.name or '(no Name)'} in {instance.region}")
        lines = [
            f"# {comment}",
            f"Host {' '.join(patterns)}",
            f"    HostName {instance.instance_id}",
        ]
        if user:
            lines.append(f"    User {user}")
        lines.append(f"    ProxyCommand {' '.join(proxy)}")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)
