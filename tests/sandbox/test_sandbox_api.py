"""The Python API: construction rules, one sandbox per process, env and export lines, the
pytest fixtures, run-time changes, and surviving moto being reset under it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import boto3
import pytest

from ssmctl.sandbox import Sandbox, SandboxError, serve_forever

from .helpers import Clients


@pytest.mark.parametrize("host", ["0.0.0.0", "localhost", "::1", "192.168.1.10"])
def test_only_loopback_is_allowed(host: str) -> None:
    with pytest.raises(SandboxError, match=r"127\.0\.0\.1 only"):
        Sandbox(host=host)


def test_port_must_be_valid() -> None:
    with pytest.raises(SandboxError, match="between 0 and 65535"):
        Sandbox(port=70000)


def test_one_sandbox_per_process(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError, match="already running in this process"):
        Sandbox().start()
    assert sandbox.running and sandbox.intact()


def test_env_points_clients_at_the_sandbox(sandbox: Sandbox) -> None:
    env = sandbox.env()
    assert set(env) == {
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    }
    assert env["AWS_ENDPOINT_URL"] == sandbox.endpoint_url.rstrip("/")
    assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert env["AWS_ACCESS_KEY_ID"] == sandbox.users["alice"].access_key_id
    assert sandbox.env("bob")["AWS_ACCESS_KEY_ID"] == sandbox.users["bob"].access_key_id
    with pytest.raises(SandboxError, match="no sandbox user 'nobody'"):
        sandbox.env("nobody")
    base = {
        "PATH": "/bin",
        "AWS_PROFILE": "prod",
        "AWS_SESSION_TOKEN": "t",
        "AWS_ENDPOINT_URL_SSM": "https://x",
    }
    whole = sandbox.env(base=base)
    assert whole["PATH"] == "/bin" and whole["AWS_REGION"] == sandbox.region
    assert not {"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_SSM"} & set(whole)


def test_export_lines_work_in_a_shell(sandbox: Sandbox) -> None:
    lines = sandbox.export_lines("bob")
    assert lines[-1] == "unset AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_PROFILE AWS_DEFAULT_PROFILE"
    show = '"$AWS_ACCESS_KEY_ID|$AWS_ENDPOINT_URL|${AWS_PROFILE-unset}|${AWS_SESSION_TOKEN-unset}"'
    script = "\n".join([*lines, f"echo {show}"])
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_PROFILE": "prod",
        "AWS_SESSION_TOKEN": "old",
    }
    out = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == f"{sandbox.users['bob'].access_key_id}|{sandbox.endpoint_url}|unset|unset"


def test_env_fixture_makes_default_clients_reach_the_sandbox(
    ssmctl_sandbox_env: dict[str, str], sandbox: Sandbox
) -> None:
    assert os.environ["AWS_ENDPOINT_URL"] == sandbox.endpoint_url
    assert "AWS_PROFILE" not in os.environ and "AWS_SESSION_TOKEN" not in os.environ
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        assert (
            Path(os.environ[name]).read_text() == ""
            and ssmctl_sandbox_env[name] == os.environ[name]
        )
    identity = boto3.session.Session().client("sts").get_caller_identity()
    assert identity["Arn"] == sandbox.users["alice"].arn


def test_node_lookup_and_ping_status_errors(sandbox: Sandbox) -> None:
    assert sandbox.instances["eu-west-1"]["eu-web-1"] == sandbox.node_id("eu-web-1", "eu-west-1")
    assert sandbox.node_id("nas-1").startswith("mi-")
    web = sandbox.node_id("web-1")
    assert sandbox.node_id(web) == web
    with pytest.raises(SandboxError, match="no fleet node named 'web-1' in eu-west-1"):
        sandbox.node_id("web-1", "eu-west-1")
    with pytest.raises(SandboxError, match="not registered with SSM"):
        sandbox.set_ping_status("scratch-1", "Online")
    with pytest.raises(SandboxError, match="ping status must be one of"):
        sandbox.set_ping_status("web-1", "Asleep")
    with pytest.raises(SandboxError, match="no EC2 instance"):
        sandbox.register_instance("i-0123456789abcdef0")


def test_serve_forever_checks_the_user_before_starting(sandbox: Sandbox) -> None:
    out = io.StringIO()
    with pytest.raises(SandboxError, match="no user 'nobody' in the fleet"):
        serve_forever(None, 0, "nobody", out)
    assert out.getvalue() == ""


def test_survives_mock_aws_resetting_moto(sandbox: Sandbox, aws: Clients) -> None:
    import moto

    with moto.mock_aws():
        pass  # moto resets every backend, the sandbox's included
    assert not sandbox.intact()
    sandbox.reseed()
    assert sandbox.intact()
    fresh = aws("sts").get_caller_identity()  # new keys, same endpoint
    assert fresh["Arn"] == sandbox.users["alice"].arn
    nodes = aws("ssm").describe_instance_information(
        Filters=[{"Key": "tag:Role", "Values": ["web"]}]
    )
    assert len(nodes["InstanceInformationList"]) == 2


def test_lifecycle_in_a_fresh_process(tmp_path: Path) -> None:
    """Start, stop and start again; stopping puts moto back as it was."""
    script = textwrap.dedent(
        """
        import boto3
        from moto.ssm.responses import SimpleSystemManagerResponse
        from ssmctl.sandbox import Sandbox, load_fleet
        from ssmctl.sandbox import patches

        fleet = load_fleet(r"{fleet}")
        for round in range(2):
            with Sandbox(fleet) as sandbox:
                env = sandbox.env()
                sts = boto3.client(
                    "sts", endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"],
                    aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                )
                print(sts.get_caller_identity()["Arn"])
                assert hasattr(SimpleSystemManagerResponse, "start_session")
            assert not sandbox.running and not patches.installed()
            assert not hasattr(SimpleSystemManagerResponse, "start_session")
        print("ok")
        """
    )
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text("account_id: '222233334444'\nusers: [{name: zed}]\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    done = subprocess.run(
        [sys.executable, "-c", script.format(fleet=fleet)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["arn:aws:iam::222233334444:user/zed"] * 2 + ["ok"]
