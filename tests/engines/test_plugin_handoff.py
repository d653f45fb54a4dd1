"""The plugin's command line and environment, exactly as docs/protocol.md section 1."""

from __future__ import annotations

import json
import types

import boto3
import pytest

from ssmctl.engines.handoff import RESPONSE_ENV_VAR, build_command, client_region_endpoint
from ssmctl.errors import PluginError

from .helpers import ENDPOINT, NEW, OLD, REGION, REQUEST, RESPONSE, TOKEN

PAYLOAD = {k: RESPONSE[k] for k in ("SessionId", "TokenValue", "StreamUrl")}


def test_new_plugin_reads_the_response_from_the_environment() -> None:
    command = build_command(
        "/bin/smp", NEW, RESPONSE, REQUEST,
        region=REGION, profile=None, endpoint_url=ENDPOINT, base_env={"HOME": "/h"},
    )  # fmt: skip
    assert command.argv == (
        "/bin/smp",
        RESPONSE_ENV_VAR,
        REGION,
        "StartSession",
        "",
        json.dumps(REQUEST),
        ENDPOINT,
    )
    assert json.loads(command.env[RESPONSE_ENV_VAR]) == PAYLOAD  # no ResponseMetadata
    assert command.env["HOME"] == "/h"
    assert not any(TOKEN in arg for arg in command.argv)
    assert command.token_in_argv is False
    assert command.session_id == RESPONSE["SessionId"]


def test_old_plugin_gets_the_json_in_argv() -> None:
    stale = {RESPONSE_ENV_VAR: "left over", "HOME": "/h"}
    command = build_command(
        "/bin/smp", OLD, RESPONSE, REQUEST,
        region=REGION, profile="dev", endpoint_url=ENDPOINT, base_env=stale,
    )  # fmt: skip
    assert len(command.argv) == 7
    assert json.loads(command.argv[1]) == PAYLOAD
    assert command.argv[4] == "dev"
    assert RESPONSE_ENV_VAR not in command.env
    assert command.token_in_argv is True


def test_explicit_profile_is_passed() -> None:
    command = build_command(
        "/bin/smp", NEW, RESPONSE, REQUEST,
        region=REGION, profile="prod-admin", endpoint_url=ENDPOINT, base_env={},
    )  # fmt: skip
    assert command.argv[4] == "prod-admin"


def test_request_parameters_are_passed_whole() -> None:
    request = {
        "Target": "i-0123456789abcdef0",
        "DocumentName": "AWS-StartPortForwardingSession",
        "Parameters": {"portNumber": ["80"], "localPortNumber": ["8080"]},
        "Reason": "debugging",
    }
    command = build_command(
        "/bin/smp", NEW, RESPONSE, request,
        region=REGION, profile=None, endpoint_url=ENDPOINT, base_env={},
    )  # fmt: skip
    assert json.loads(command.argv[5]) == request


@pytest.mark.parametrize("request_params", [{}, {"Target": None}, {"Target": 5}, {"Target": ""}])
def test_request_without_a_string_target_is_refused(request_params: dict[str, object]) -> None:
    with pytest.raises(PluginError, match="no Target") as info:
        build_command(
            "/bin/smp", NEW, RESPONSE, request_params,
            region=REGION, profile=None, endpoint_url=ENDPOINT, base_env={},
        )  # fmt: skip
    assert TOKEN not in str(info.value)


def test_incomplete_response_is_refused_without_showing_the_token() -> None:
    response = {"SessionId": "s-1", "TokenValue": TOKEN}
    with pytest.raises(PluginError, match="lacks StreamUrl") as info:
        build_command(
            "/bin/smp", NEW, response, REQUEST,
            region=REGION, profile=None, endpoint_url=ENDPOINT, base_env={},
        )  # fmt: skip
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize("version", [NEW, OLD])
def test_repr_never_shows_the_token(version: tuple[int, ...]) -> None:
    command = build_command(
        "/bin/smp", version, RESPONSE, REQUEST,
        region=REGION, profile=None, endpoint_url=ENDPOINT, base_env={},
    )  # fmt: skip
    assert TOKEN not in repr(command)
    assert TOKEN not in str(command)


def test_region_and_endpoint_come_from_the_client() -> None:
    client = boto3.client(
        "ssm",
        region_name="eu-west-1",
        endpoint_url="http://127.0.0.1:5000",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert client_region_endpoint(client) == ("eu-west-1", "http://127.0.0.1:5000")
    default = boto3.client(
        "ssm", region_name="ap-south-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    assert client_region_endpoint(default) == ("ap-south-1", "https://ssm.ap-south-1.amazonaws.com")


def test_region_and_endpoint_from_any_client_shape() -> None:
    meta = types.SimpleNamespace(region_name="us-west-2", endpoint_url="https://x")
    assert client_region_endpoint(types.SimpleNamespace(meta=meta)) == ("us-west-2", "https://x")
