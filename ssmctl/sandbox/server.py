"""The `Sandbox`: moto in server mode behind the credential gate, on loopback, seeded
with a fleet, plus the sandbox's own state (nodes, sessions, CloudTrail events)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
import shlex
import socket
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ssmctl.sandbox.errors import SandboxError
from ssmctl.sandbox.fleet import (
    DEFAULT_AGENT_VERSION,
    Fleet,
    InstanceSpec,
    TrailDeliverySpec,
    TrailThrottle,
    default_fleet,
)
from ssmctl.sandbox.runtime import Runtime
from ssmctl.sandbox.seed import Seeded, UserCredentials
from ssmctl.sandbox.sessions import SessionStore
from ssmctl.sandbox.trail import TrailStore
from ssmctl.sandbox.trail_delivery import TrailDelivery, add_history, seed_trail, start_trail

if TYPE_CHECKING:
    from ssmctl.sandbox.agent.server import DataChannelServer

LOOPBACK = "127.0.0.1"
# Variables that would make an AWS client use other credentials than the exported ones.
UNSET_VARS = ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE")
log = logging.getLogger("ssmctl.sandbox")


class _Running:
    """The sandbox this process runs, if any (moto's state is per process)."""

    def __init__(self) -> None:
        self.sandbox: Sandbox | None = None
        self.lock = threading.Lock()


_running = _Running()


class Sandbox:
    """A local emulated Session Manager region (several regions, one account).

    One per process: moto's state is global. Use as a context manager, or call
    `start()` and `stop()`.
    """

    def __init__(self, fleet: Fleet | None = None, *, host: str = LOOPBACK, port: int = 0) -> None:
        if host != LOOPBACK:
            raise SandboxError(f"the sandbox listens on {LOOPBACK} only, not {host!r}")
        if not 0 <= port <= 65535:
            raise SandboxError(f"port must be between 0 and 65535, not {port}")
        self.fleet = fleet or default_fleet()
        self.host = host
        self._port = port
        self._runtime: Runtime | None = None
        self._seeded: Seeded | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._stream_socket: socket.socket | None = None
        self._agent: DataChannelServer | None = None
        self._trail_delivery: TrailDelivery | None = None

    # --- life cycle ----------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Seed moto, then serve on the loopback port; returns self."""
        needed = ("moto", "flask", "flask_cors")
        missing = [m for m in needed if importlib.util.find_spec(m) is None]
        if missing:
            raise SandboxError(
                f"the sandbox needs the 'sandbox' extra ({', '.join(missing)} missing): "
                "pip install 'ssmctl[sandbox]'"
            )
        with _running.lock:
            if _running.sandbox is not None:
                raise SandboxError(
                    "a sandbox is already running in this process "
                    f"({_running.sandbox.endpoint_url}); "
                    "moto's state is global, so stop it first or run another in a subprocess "
                    "(python -m ssmctl.sandbox)"
                )
            _running.sandbox = self
        try:
            self._start()
        except BaseException:
            self._teardown()
            raise
        return self

    def _start(self) -> None:
        # Bind first, so a busy port fails fast; werkzeug would exit the process on one.
        try:
            listener = _listen(self.host, self._port)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise SandboxError(f"cannot listen on {self.host}:{self._port}: {reason}") from None
        with listener:
            self._stream_socket = _reserve_port(self.host)
            app = self._prepare(self._stream_socket.getsockname()[1])
            from werkzeug.serving import make_server

            self._server = make_server(
                self.host,
                self._port,
                app,
                threaded=True,
                request_handler=_quiet_handler(),
                fd=listener.fileno(),
            )
        from ssmctl.sandbox.agent.server import DataChannelServer

        assert self._runtime is not None
        assert self._stream_socket is not None
        self._agent = DataChannelServer(
            self._runtime, self._stream_socket, time_scale=self.fleet.session_time_scale
        ).start()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ssmctl-sandbox", daemon=True
        )
        self._thread.start()
        log.debug("sandbox serving on %s", self.endpoint_url)

    def _prepare(self, stream_port: int) -> Any:
        """Patch and seed moto; returns the WSGI app (moto behind the credential gate)."""
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        from ssmctl.sandbox import moto_access, patches, runtime
        from ssmctl.sandbox.middleware import CredentialGate

        patches.install()
        moto_access.reset()
        state = Runtime(self.fleet, self.host, stream_port=stream_port)
        runtime.activate(state)
        self._runtime = state
        self._seed()
        return CredentialGate(DomainDispatcherApplication(create_backend_app), state)

    def _seed(self) -> None:
        from ssmctl.sandbox.seed import seed

        assert self._runtime is not None
        self._seeded = seed(self._runtime)
        self._trail_delivery = seed_trail(self._runtime.trail, self.fleet, self._trail_delivery)

    def stop(self) -> None:
        """Stop serving, release the ports, wipe moto's state and unpatch moto."""
        with _running.lock:
            if _running.sandbox is not self:
                return
        self._teardown()

    def _teardown(self) -> None:
        from ssmctl.sandbox import moto_access, patches, runtime

        if self._agent is not None:
            self._agent.stop()  # ends every session and kills its processes
            self._agent = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._stream_socket is not None:
            self._stream_socket.close()
            self._stream_socket = None
        if self._trail_delivery is not None:
            self._trail_delivery.stop()
            self._trail_delivery = None
        if self._runtime is not None:
            self._runtime.close()
            runtime.deactivate(self._runtime)
            self._runtime = None
            moto_access.reset()
        patches.uninstall()
        self._seeded = None
        with _running.lock:
            if _running.sandbox is self:
                _running.sandbox = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    def intact(self) -> bool:
        """False when something (e.g. `moto.mock_aws` in the same process) wiped moto's state."""
        from ssmctl.sandbox import moto_access

        user = self.users[self.default_user]
        return moto_access.access_key(self.account_id, user.access_key_id) is not None

    def reseed(self) -> None:
        """Forget every change: wipe moto's and the sandbox's state and seed the fleet again.

        Keys and instance ids change; the endpoint and ports stay.
        """
        from ssmctl.sandbox import moto_access

        runtime = self._live_runtime()
        if self._agent is not None:
            self._agent.end_all("The sandbox was seeded again.")
        moto_access.reset()
        runtime.reset()
        self._seed()

    # --- what clients need -----------------------------------------------------------

    def _live_runtime(self) -> Runtime:
        if self._runtime is None or self._seeded is None:
            raise SandboxError("the sandbox is not running; call start() first")
        return self._runtime

    def _live(self) -> Seeded:
        self._live_runtime()
        assert self._seeded is not None
        return self._seeded

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise SandboxError("the sandbox is not running; call start() first")
        return f"http://{self.host}:{self._server.port}"

    @property
    def port(self) -> int:
        return int(self._server.port) if self._server is not None else self._port

    @property
    def stream_port(self) -> int:
        """The loopback port StreamUrls point at (the data channel)."""
        return self._live_runtime().stream_port

    @property
    def agent(self) -> DataChannelServer:
        """The data channel: `time_scale`, `drop_socket(id)`, `wait_ended(id)`, `active()`."""
        self._live_runtime()
        assert self._agent is not None
        return self._agent

    @property
    def region(self) -> str:
        return self.fleet.default_region

    @property
    def regions(self) -> tuple[str, ...]:
        return self.fleet.regions

    @property
    def account_id(self) -> str:
        return self.fleet.account_id

    @property
    def default_user(self) -> str:
        return self.fleet.default_user

    @property
    def users(self) -> Mapping[str, UserCredentials]:
        """IAM user name -> credentials."""
        return self._live().users

    @property
    def roles(self) -> Mapping[str, str]:
        """IAM role name -> ARN."""
        return self._live().roles

    @property
    def instances(self) -> Mapping[str, Mapping[str, str]]:
        """Region -> fleet name -> node id (EC2 instances, stack instances, hybrid nodes)."""
        return self._live().instances

    @property
    def sessions(self) -> SessionStore:
        return self._live_runtime().sessions

    @property
    def trail(self) -> TrailStore:
        """The CloudTrail event store (add records with `trail.add(record)`)."""
        return self._live_runtime().trail

    @property
    def trail_throttle(self) -> TrailThrottle | None:
        """LookupEvents' rate limit now (the fleet's `cloudtrail` settings at start)."""
        return self._live_runtime().throttle

    @trail_throttle.setter
    def trail_throttle(self, throttle: TrailThrottle | None) -> None:
        self._live_runtime().set_throttle(throttle)

    def deliver_trail(
        self,
        bucket: str,
        prefix: str = "",
        *,
        organization_id: str | None = None,
        interval: float = 0,
    ) -> None:
        """Deliver CloudTrail files to `bucket` from now on, instead of the fleet's trail."""
        spec = TrailDeliverySpec(bucket, prefix.strip("/"), interval, organization_id)
        self._trail_delivery = start_trail(
            self.trail, spec, self.account_id, self.region, self._trail_delivery
        )

    def flush_trail(self) -> list[str]:
        """Deliver the queued CloudTrail records now; returns the keys written."""
        self._live_runtime()
        return self._trail_delivery.flush() if self._trail_delivery is not None else []

    def add_history(
        self, records: Iterable[Mapping[str, Any]], *, bucket: bool = True, lookup: bool = True
    ) -> int:
        """Seed past CloudTrail records: into LookupEvents (the last 90 days of them are
        returned) and, with a trail, as trail files of their time; returns how many."""
        return add_history(self.trail, self._trail_delivery, records, bucket=bucket, lookup=lookup)

    def node_id(self, name: str, region: str | None = None) -> str:
        """The id of a fleet node by name (in any region unless `region` is given).

        A node id passes through unchanged."""
        for node_region, nodes in self.instances.items():
            if region in (None, node_region):
                if name in nodes:
                    return nodes[name]
                if name in nodes.values():
                    return name
        if self._live_runtime().nodes.find(name) is not None:
            return name
        raise SandboxError(f"no fleet node named {name!r}" + (f" in {region}" if region else ""))

    def workdir(self, node: str) -> Path:
        """A node's working directory (where its commands run), by fleet name or id."""
        return self._live_runtime().workdirs.path(self.node_id(node))

    def set_ping_status(self, node: str, status: str) -> None:
        """Change a node's SSM ping status now (Online, ConnectionLost or Inactive)."""
        node_id = self.node_id(node)
        try:
            self._live_runtime().nodes.set_ping_status(node_id, status, _now())
        except KeyError:
            raise SandboxError(f"{node} is not registered with SSM") from None
        except ValueError as exc:
            raise SandboxError(str(exc)) from None

    def register_instance(
        self,
        instance_id: str,
        *,
        region: str | None = None,
        ping_status: str = "Online",
        platform: str = "Linux",
        agent_version: str = DEFAULT_AGENT_VERSION,
    ) -> None:
        """Give an instance launched at run time (ec2 RunInstances) an SSM agent."""
        from ssmctl.sandbox import moto_access
        from ssmctl.sandbox.seed import register_instance

        region = region or self.region
        runtime = self._live_runtime()
        if moto_access.ec2_instance(self.account_id, region, instance_id) is None:
            raise SandboxError(f"no EC2 instance {instance_id} in {region}")
        spec = InstanceSpec(
            name=instance_id,
            region=region,
            platform=platform,
            ping_status=ping_status,
            agent_version=agent_version,
        )
        register_instance(runtime, spec, instance_id)

    def env(self, user: str | None = None, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment variables that point AWS clients at the sandbox as `user`.

        Without `base`: just the variables to set. With `base` (e.g. os.environ): a whole
        environment, `base` minus any variable that would override them (AWS_PROFILE,
        AWS_SESSION_TOKEN, ..., AWS_ENDPOINT_URL_<SERVICE>) plus them.
        """
        name = user or self.default_user
        credentials = self.users.get(name)
        if credentials is None:
            raise SandboxError(f"no sandbox user {name!r} (users: {', '.join(self.users)})")
        wanted = {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_ACCESS_KEY_ID": credentials.access_key_id,
            "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
        }
        if base is None:
            return wanted
        kept = {
            k: v
            for k, v in base.items()
            if k not in UNSET_VARS and not k.startswith("AWS_ENDPOINT_URL_")
        }
        return {**kept, **wanted}

    def export_lines(self, user: str | None = None) -> list[str]:
        """Shell lines that point a shell at the sandbox (`eval` them or paste them)."""
        lines = [f"export {key}={shlex.quote(value)}" for key, value in self.env(user).items()]
        return [*lines, "unset " + " ".join(UNSET_VARS)]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _tcp_socket() -> socket.socket:
    """A TCP socket whose accepted connections send at once (TCP_NODELAY, inherited):
    with Nagle's algorithm a small write after another waits for the peer's delayed ACK,
    some 40 ms on Linux, e.g. the output that follows an ack on the data channel."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _listen(host: str, port: int) -> socket.socket:
    sock = _tcp_socket()
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def _reserve_port(host: str) -> socket.socket:
    """Bind a loopback port for the data channel before moto is seeded (StreamUrls name
    it); its server starts listening on it once the sandbox is ready."""
    sock = _tcp_socket()
    sock.bind((host, 0))
    return sock


def _quiet_handler() -> Any:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    class QuietRequestHandler(MotoRequestHandler):
        """No access log: the sandbox's output is its export lines, and request lines can
        carry credentials (presigned URLs); errors go to the debug log without them."""

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            pass

        def log(self, type: str, message: str, *args: Any) -> None:
            if type == "error":
                log.debug("request from %s failed: %s", self.address_string(), message % args)

    return QuietRequestHandler
