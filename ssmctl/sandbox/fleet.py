"""The fleet a sandbox is seeded with: validated, frozen descriptions (no moto here).

`load_fleet(path)` reads a fleet file (docs/sandbox.md documents every key);
`default_fleet()` reads the built-in `default-fleet.yaml` next to this module.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ssmctl.sandbox.fleet_iam import AttachedPolicySpec, IamSpec

PING_STATUSES = ("Online", "ConnectionLost", "Inactive")
PLATFORMS = ("Linux", "Windows", "MacOS")
INSTANCE_STATES = ("running", "stopped")
DEFAULT_AGENT_VERSION = "3.3.0.0"
DEFAULT_ACCOUNT_ID = "111122223333"
DEFAULT_CONNECT_TIMEOUT = 300.0
DEFAULT_INSTANCE_TYPE = "t3.micro"
# Resource types a TAG_FILTERS_1_0 group can name and the sandbox can evaluate.
GROUP_RESOURCE_TYPES = ("AWS::AllSupported", "AWS::EC2::Instance", "AWS::SSM::ManagedInstance")

# What an SSM agent reports for each platform when the fleet file does not say.
PLATFORM_DEFAULTS: Mapping[str, tuple[str, str]] = {
    "Linux": ("Amazon Linux", "2023"),
    "Windows": ("Microsoft Windows Server 2022 Datacenter", "10.0.20348"),
    "MacOS": ("macOS", "14.5"),
}

_DEFAULT_FLEET_FILE = Path(__file__).with_name("default-fleet.yaml")


@dataclasses.dataclass(frozen=True)
class UserSpec:
    """An IAM user created with one access key."""

    name: str
    expired: bool = False
    """Every request signed with this user's key fails as if its token had expired."""
    policies: tuple[AttachedPolicySpec, ...] = ()


@dataclasses.dataclass(frozen=True)
class RoleSpec:
    """An IAM role the fleet's users may assume with sts AssumeRole."""

    name: str
    policies: tuple[AttachedPolicySpec, ...] = ()


@dataclasses.dataclass(frozen=True)
class InstanceSpec:
    """An EC2 instance and, when `managed`, its SSM agent registration."""

    name: str
    region: str
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict)
    state: str = "running"
    instance_type: str = DEFAULT_INSTANCE_TYPE
    private_ip: str | None = None
    platform: str = "Linux"
    image_id: str | None = None
    managed: bool = True
    ping_status: str = "Online"
    agent_version: str = DEFAULT_AGENT_VERSION
    platform_name: str = ""
    platform_version: str = ""


@dataclasses.dataclass(frozen=True)
class HybridNodeSpec:
    """A hybrid-activated (`mi-`) node: a server outside EC2 registered with SSM."""

    name: str
    region: str
    node_id: str
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict)
    ping_status: str = "Online"
    ip_address: str = "192.168.0.10"
    computer_name: str = ""
    platform: str = "Linux"
    platform_name: str = ""
    platform_version: str = ""
    agent_version: str = DEFAULT_AGENT_VERSION
    activation_id: str = ""
    iam_role: str = "SSMServiceRole"


@dataclasses.dataclass(frozen=True)
class TagFilter:
    """One TAG_FILTERS_1_0 filter: the key, and the values it may have (none = any)."""

    key: str
    values: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class GroupSpec:
    """A resource group: a tag query, or a CloudFormation stack the sandbox deploys."""

    name: str
    region: str
    tag_filters: tuple[TagFilter, ...] = ()
    resource_types: tuple[str, ...] = ("AWS::AllSupported",)
    stack_name: str | None = None
    """Set for a CLOUDFORMATION_STACK_1_0 group; `instances` are the stack's resources."""
    instances: tuple[InstanceSpec, ...] = ()

    @property
    def is_stack(self) -> bool:
        return self.stack_name is not None


@dataclasses.dataclass(frozen=True)
class TrailThrottle:
    """The LookupEvents rate limit: `rate` requests per second, bursts up to `burst`."""

    rate: float = 2.0
    burst: int = 2


@dataclasses.dataclass(frozen=True)
class TrailDeliverySpec:
    """A trail delivering the sandbox's CloudTrail records to an S3 bucket."""

    bucket: str
    prefix: str = ""
    interval: float = 300.0
    """Seconds between deliveries (AWS: about 5 minutes); 0 = only on `flush_trail()`."""
    organization_id: str | None = None
    """An organization trail files under AWSLogs/<o-id>/<account>/."""


@dataclasses.dataclass(frozen=True)
class Fleet:
    """A whole sandbox: account, regions, identities, nodes, groups and service settings."""

    account_id: str
    regions: tuple[str, ...]
    default_region: str
    users: tuple[UserSpec, ...]
    default_user: str
    roles: tuple[RoleSpec, ...] = ()
    instances: tuple[InstanceSpec, ...] = ()
    hybrid_nodes: tuple[HybridNodeSpec, ...] = ()
    groups: tuple[GroupSpec, ...] = ()
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    """Seconds a new session may stay Connecting before it moves to History as Failed."""
    session_time_scale: float = 1.0
    """How fast the data channel's idle and duration clocks run: seconds per AWS second
    (1/60 makes the preferences' minutes last seconds, for tests)."""
    session_preferences: Mapping[str, Any] | None = None
    """The `inputs` of the SSM-SessionManagerRunShell document seeded in every region."""
    trail_throttle: TrailThrottle | None = TrailThrottle()
    """None turns the LookupEvents throttle off."""
    trail_delivery: TrailDeliverySpec | None = None
    trail_history: tuple[Mapping[str, Any], ...] = ()
    """CloudTrail records seeded into the event history at start."""
    history_in_bucket: bool = True
    """Also file `trail_history` in the trail bucket (when there is one)."""
    iam: IamSpec = dataclasses.field(default_factory=IamSpec)
    """Managed policies, and whether policies are enforced (fleet_iam.py)."""
    source: str = "<fleet>"

    def all_instances(self) -> tuple[InstanceSpec, ...]:
        """Plain instances followed by the instances of every stack group."""
        stacked = tuple(i for g in self.groups for i in g.instances)
        return self.instances + stacked


@functools.lru_cache(maxsize=1)
def known_regions() -> frozenset[str]:
    """Regions of the `aws` partition that botocore knows EC2 in."""
    import botocore.session

    return frozenset(botocore.session.get_session().get_available_regions("ec2"))


def load_fleet(path: str | Path) -> Fleet:
    """Read and validate the fleet file at `path` (errors name the file and line)."""
    from ssmctl.errors import ConfigError
    from ssmctl.sandbox.fleet_parse import parse_fleet

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"fleet file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read fleet file {path}: {exc}") from None
    return parse_fleet(text, str(path))


def default_fleet() -> Fleet:
    """The built-in fleet (`ssmctl/sandbox/default-fleet.yaml`)."""
    return load_fleet(_DEFAULT_FLEET_FILE)
