"""The fleet file's `iam:` and `policies:` keys: what they produce, and errors that name
the file and line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ssmctl.errors import ConfigError
from ssmctl.sandbox.fleet_parse import parse_fleet

ROOT = Path(__file__).resolve().parents[2]
ALLOW = '{Version: "2012-10-17", Statement: [{Effect: Allow, Action: "ssm:*", Resource: "*"}]}'


def test_policies_of_users_and_roles() -> None:
    text = (
        "iam:\n"
        "  enforce: true\n"
        "  policies:\n"
        f"    - {{name: ssm, document: {ALLOW}}}\n"
        "users:\n"
        "  - name: a\n"
        "    policies:\n"
        "      - managed: ssm\n"
        "      - name: own\n"
        '        document: \'{"Version": "2012-10-17", "Statement": '
        '{"Effect": "Deny", "Action": "*", "Resource": "*"}}\'\n'
        "roles:\n"
        "  - {name: r, policies: [{managed: ssm}]}\n"
    )
    fleet = parse_fleet(text, "f.yaml")
    assert fleet.iam.enforce is True
    (managed,) = fleet.iam.policies
    assert json.loads(managed.document)["Statement"][0]["Action"] == "ssm:*"
    assert managed.document.startswith("{\n  ")  # YAML mappings are stored indented
    attached, inline = fleet.users[0].policies
    assert attached.managed and attached.name == "ssm"
    assert not inline.managed and inline.document is not None
    assert inline.document.startswith('{"Version"')  # JSON text is kept as written
    assert fleet.roles[0].policies[0].name == "ssm"
    assert parse_fleet("users: [{name: a}]\n", "f").iam.enforce is False


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("iam: {enforce: yes please}\nusers: [{name: a}]\n", 1, "iam.enforce must be true"),
        ("iam: {enforcing: true}\nusers: [{name: a}]\n", 1, "unknown key 'enforcing'"),
        (
            "iam:\n  policies:\n    - name: x\nusers: [{name: a}]\n",
            3,
            "needs a name and a document",
        ),
        (
            f"iam:\n  policies:\n    - {{name: x, document: {ALLOW}}}\n"
            f"    - {{name: x, document: {ALLOW}}}\nusers: [{{name: a}}]\n",
            4,
            "managed policy 'x' is defined twice",
        ),
        (
            "users:\n  - name: a\n    policies:\n      - managed: nope\n",
            4,
            "managed policy 'nope' is not in iam.policies (none defined)",
        ),
        (
            "users:\n  - name: a\n    policies:\n      - name: p\n",
            4,
            "needs name and document (inline) or managed (attached)",
        ),
        (
            "users:\n  - name: a\n    policies:\n      - {name: 'bad name', document: {}}\n",
            4,
            "name 'bad name' is not valid",
        ),
        (
            "users:\n  - name: a\n    policies:\n      - name: p\n        document:\n"
            '          Version: "2012-10-17"\n'
            "          Statement: {Effect: allow, Action: 's:A', Resource: '*'}\n",
            6,
            "users[0].policies[0].document: Statement 1: Effect must be Allow or Deny",
        ),
        (
            "users:\n  - name: a\n    policies:\n      - name: p\n"
            '        document: \'{"Statement": {"Effect": "Allow", "Action": "s:A", '
            '"Resource": "*"}}\'\n',
            5,
            'needs "Version": "2012-10-17"',
        ),
        (
            "users:\n  - name: a\n    policies:\n      - name: p\n        document: '{nope'\n",
            5,
            "the policy is not valid JSON",
        ),
        (
            "roles:\n  - name: r\n    policies: [{managed: m, name: n}]\nusers: [{name: a}]\n",
            3,
            "managed cannot be combined with name/document",
        ),
    ],
)
def test_errors_name_file_and_line(text: str, line: int, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_fleet(text, "fleet.yaml")
    message = str(info.value)
    assert message.startswith(f"fleet.yaml:{line}: "), message
    assert fragment in message
    assert "\n" not in message


def test_the_example_in_the_docs_parses() -> None:
    docs = (ROOT / "docs" / "sandbox.md").read_text(encoding="utf-8")
    section = docs.split("### IAM policies", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert example is not None
    fleet = parse_fleet(example.group(1), "docs")
    assert fleet.iam.enforce and [u.name for u in fleet.users] == ["admin", "dev"]
