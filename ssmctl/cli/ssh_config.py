"""`ssmctl ssh-config`: Host blocks so ssh, scp and rsync reach instances by name."""

from __future__ import annotations

import click

from ssmctl.cli.completers import complete_target
from ssmctl.cli.context import App
from ssmctl.cli.options import common_options, target_options
from ssmctl.cli.registry import exit_codes_epilog
from ssmctl.cli.targeting import target_spec
from ssmctl.errors import TargetNotFound


@click.command("ssh-config", epilog=exit_codes_epilog())
@click.argument("targets", nargs=-1, shell_complete=complete_target)
@target_options
@click.option("--user", metavar="NAME", help="Add `User NAME` to every block.")
@click.option(
    "--command",
    "program",
    default="ssmctl",
    show_default=True,
    metavar="PATH",
    help="How ssh runs ssmctl (a full path when ssmctl is not on ssh's PATH).",
)
@common_options(fan_out=True)
def ssh_config(
    app: App,
    targets: tuple[str, ...],
    tags: tuple[str, ...],
    group: str | None,
    user: str | None,
    program: str,
) -> None:
    """Print ssh_config Host blocks for instances, reached through `ssmctl proxy`.

    \b
      ssmctl ssh-config --tag Env=dev --user ec2-user >> ~/.ssh/config
      ssh web-1; scp app.tar web-1:/tmp/; rsync -a site/ web-1:/srv/site/

    One block per instance SSM manages among TARGETS (each an id, Name glob, Key=Value,
    IP, DNS name or @alias; none = every instance), in the chosen regions: `Host` with
    its Name (when no other instance has it) and its id, `HostName` its id, `User` with
    --user, and `ProxyCommand ssmctl proxy <id> --region <region> [--profile ...]
    [--endpoint-url ...] --port %p`. Names are reduced to letters, digits, `.`, `_` and
    `-`, and every argument is quoted, so no tag value can add ssh_config directives.
    Always prints ssh_config text, whatever --output says.
    """
    from ssmctl.inventory import find_instances
    from ssmctl.ssh_config import host_blocks

    specs = [target_spec(app, t, tags, group)[0] for t in targets] or [
        target_spec(app, None, tags, group)[0]
    ]
    aws = app.aws()
    regions = app.regions(aws)
    found = {}
    for spec in specs:
        inventory = find_instances(aws, spec, regions)
        if inventory.failures:
            raise inventory.failures[0][1]
        for instance in inventory.instances:
            if instance.managed:
                found[(instance.region, instance.instance_id)] = instance
    if not found:
        wanted = ", ".join(s.text for s in specs)
        raise TargetNotFound(f"no instance managed by SSM matches {wanted} in {', '.join(regions)}")
    settings = app.settings
    app.stdout.write(
        host_blocks(
            list(found.values()),
            command=program,
            profile=settings.profile,
            endpoint_url=settings.endpoint_url,
            user=user,
        )
    )
