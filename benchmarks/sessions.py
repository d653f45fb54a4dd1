"""Sessions: time to the first shell output, and port forwarding's throughput, latency and CPU.

    python benchmarks/sessions.py [--runs 15] [--megabytes 20] [--rounds 3] [--samples 40]

Against a sandbox subprocess (`python -m ssmctl.sandbox`, a fleet of two instances: one
with a current agent, whose port sessions are smux-multiplexed, one with agent 3.0.196.0,
whose port sessions are basic), side by side in one run:

1. Time to first shell output: each command runs on a pseudo-terminal, in turn, round
   after round; the clock runs from just before the process is forked to the first byte
   of the shell's prompt, then `exit` is typed and the process reaped. `ssmctl connect
   --engine native`, `ssmctl connect --engine plugin` (when session-manager-plugin is on
   PATH), `aws ssm start-session` (when both aws and the plugin are); `python -c pass` (to
   its exit) as the floor, and `python -c 'import boto3'`, which ssmctl needs to call AWS.
   Medians, with ratios to the native engine's.
2. Port forwarding: `ssmctl forward --engine native` (and `--engine plugin` with the plugin)
   to a TCP server of this script on 127.0.0.1, and that server reached directly (no
   forwarding) as the reference. Throughput of `--megabytes` MB (10^6 bytes) through one
   connection and split over `--connections` concurrent ones, in each direction, SHA-256
   checked; round-trip time of a small message on a new connection and on an open one
   (medians of `--samples`); CPU seconds per MB of the forwarding process tree and of the
   sandbox's (utime + stime from /proc) during the transfers.

Exits 1 when a step fails (a checksum mismatch, a command that fails or hangs).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import fcntl
import functools
import hashlib
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FLEET = """\
account_id: "111122223333"
regions: [us-east-1]
default_region: us-east-1
users: [{name: bench, default: true}]
cloudtrail: {throttle: false}
instances:
  - name: web-1              # current agent: port sessions are smux-multiplexed
    tags: {Role: web}
  - name: old-1              # agent 3.0.196.0: basic port sessions, one connection at a time
    tags: {Role: old}
    agent_version: 3.0.196.0
"""
SHELL_TARGET = "web-1"
TARGETS = {"mux": "web-1", "basic": "old-1"}
PLUGIN = "session-manager-plugin"
NO_PLUGIN = f"skipped: {PLUGIN} not on PATH"
TIMEOUT = 60.0
"""Seconds any one step may take before the run fails."""
MB = 1_000_000

_PROMPT = re.compile(rb"[#$] \Z")
_PLUGIN_PORT = re.compile(rb"Port (\d+) opened")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A step failed: the run goes on where it can and exits 1."""


def _ssmctl() -> str:
    beside = Path(sys.executable).with_name("ssmctl")
    found = str(beside) if beside.exists() else shutil.which("ssmctl")
    if not found:
        raise SystemExit("ssmctl is not installed in this environment (pip install -e .)")
    return found


def _median_ms(samples: Sequence[float]) -> str:
    ms = statistics.median(samples) * 1000
    return f"{ms:,.2f} ms" if ms < 10 else f"{ms:,.1f} ms"


# -- CPU time of a process tree ---------------------------------------------------------


def _proc_stats() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds incl. reaped children) of every process."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue  # ended meanwhile
        fields = text[text.rindex(")") + 2 :].split()
        # After the command name: state ppid ... utime(11) stime(12) cutime(13) cstime(14)
        ticks = sum(int(f) for f in fields[11:15])
        stats[int(entry)] = (int(fields[1]), ticks / _CLOCK_TICKS)
    return stats


def tree_cpu(root: int) -> float:
    """CPU seconds (user + system) used so far by `root` and every process below it."""
    stats = _proc_stats()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1]
            todo += children.get(pid, [])
    return total


# -- 1. time to first shell output -------------------------------------------------------


@dataclasses.dataclass
class Candidate:
    name: str
    argv: list[str] | None
    skipped: str = ""
    shell: bool = True
    """False: no prompt to wait for, the time is to the process's exit."""
    first: list[float] = dataclasses.field(default_factory=list)
    prompt: list[float] = dataclasses.field(default_factory=list)
    ended: list[float] = dataclasses.field(default_factory=list)


def _read_pty(fd: int, deadline: float) -> bytes:
    """What the child wrote next; b"" at its end (EIO once every writer has closed)."""
    left = deadline - time.monotonic()
    if left <= 0 or not select.select([fd], [], [], left)[0]:
        raise BenchError("no output in time")
    try:
        return os.read(fd, 65536)
    except OSError:
        return b""


def on_terminal(argv: Sequence[str], env: Mapping[str, str], shell: bool) -> list[float]:
    """Run `argv` on a new pty: [first byte, shell prompt, exit] in seconds from the fork.

    With `shell`, `exit` is typed once the prompt is there; the command must exit 0.
    """
    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: its pty is stdin, stdout, stderr and controlling terminal
        try:
            os.execve(argv[0], list(argv), dict(env))
        finally:
            os._exit(127)
    deadline = time.monotonic() + TIMEOUT
    first = prompt = 0.0
    seen = b""
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        while chunk := _read_pty(fd, deadline):
            first = first or time.perf_counter() - started
            seen += chunk
            if shell and not prompt and _PROMPT.search(seen):
                prompt = time.perf_counter() - started
                os.write(fd, b"exit\n")
    except BaseException as exc:  # Ctrl-C too: the child has a session of its own
        os.kill(pid, signal.SIGKILL)
        if isinstance(exc, BenchError):
            raise BenchError(f"{' '.join(argv[1:3])}: {exc}; it wrote {seen[-300:]!r}") from None
        raise
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    ended = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0 or (shell and not prompt):
        what = f"exit status {code}" if code else "no shell prompt"
        raise BenchError(f"{' '.join(argv[1:3])}: {what}; it wrote {seen[-300:]!r}")
    return [first, prompt or ended, ended]


def first_output(candidates: list[Candidate], env: Mapping[str, str], runs: int) -> None:
    for _ in range(runs):
        for candidate in candidates:
            if candidate.argv is None:
                continue
            first, prompt, ended = on_terminal(candidate.argv, env, candidate.shell)
            candidate.first.append(first)
            candidate.prompt.append(prompt)
            candidate.ended.append(ended)


def print_first_output(candidates: list[Candidate], runs: int) -> None:
    native = statistics.median(next(c for c in candidates if "native" in c.name).prompt)
    floor = statistics.median(candidates[0].prompt)
    print(f"\nTime to first shell output: {runs} rounds, medians\n")
    print("| command | first byte | shell prompt | to exit | ratio to native | to python |")
    print("|---|---:|---:|---:|---:|---:|")
    for c in candidates:
        if c.argv is None:
            print(f"| `{c.name}` | {c.skipped} | | | | |")
            continue
        prompt = statistics.median(c.prompt)
        first = _median_ms(c.first) if c.shell else "-"
        shown = _median_ms(c.prompt) if c.shell else "-"
        print(
            f"| `{c.name}` | {first} | {shown} | {_median_ms(c.ended)} | "
            f"{prompt / native:.2f}x | {prompt / floor:.1f}x |"
        )


# -- 2. port forwarding: a TCP server standing in for the instance's service --------------


def recv_exact(sock: socket.socket, size: int) -> bytearray:
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    while got < size:
        n = sock.recv_into(view[got:])
        if n == 0:
            raise BenchError(f"connection closed after {got:,} of {size:,} bytes")
        got += n
    return buffer


class Server:
    """On 127.0.0.1, a thread per connection; the first byte says what to do:

    `E`: echo everything until EOF. `U` + length (8 bytes): read that many bytes, answer
    their SHA-256. `D` + offset + length: send that slice of the payload, then close.
    """

    def __init__(self, payload: bytes) -> None:
        self.payload = memoryview(payload)
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port: int = self.listener.getsockname()[1]
        self.errors: list[str] = []
        threading.Thread(target=self._accept, daemon=True, name="bench-accept").start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        with sock:
            try:
                kind = sock.recv(1)
                if kind == b"E":
                    while data := sock.recv(65536):
                        sock.sendall(data)
                elif kind == b"U":
                    (size,) = struct.unpack(">Q", recv_exact(sock, 8))
                    digest = hashlib.sha256()
                    while size:
                        data = sock.recv(min(size, 1 << 20))
                        if not data:
                            raise BenchError(f"upload ended {size:,} bytes short")
                        digest.update(data)
                        size -= len(data)
                    sock.sendall(digest.digest())
                    sock.recv(1)  # the client's EOF
                elif kind == b"D":
                    offset, size = struct.unpack(">QQ", recv_exact(sock, 16))
                    sock.sendall(self.payload[offset : offset + size])
            except (OSError, BenchError) as exc:
                self.errors.append(f"server: {exc}")

    def close(self) -> None:
        self.listener.close()


def _connect(address: tuple[str, int]) -> socket.socket:
    sock = socket.create_connection(address, timeout=TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def upload(address: tuple[str, int], data: memoryview) -> None:
    with _connect(address) as sock:
        sock.sendall(b"U" + struct.pack(">Q", len(data)))
        sock.sendall(data)
        answer = bytes(recv_exact(sock, 32))
    if answer != hashlib.sha256(data).digest():
        raise BenchError(f"upload of {len(data):,} bytes: SHA-256 mismatch at the server")


def download(address: tuple[str, int], payload: memoryview, offset: int, size: int) -> None:
    with _connect(address) as sock:
        sock.sendall(b"D" + struct.pack(">QQ", offset, size))
        got = recv_exact(sock, size)
    if hashlib.sha256(got).digest() != hashlib.sha256(payload[offset : offset + size]).digest():
        raise BenchError(f"download of {size:,} bytes: SHA-256 mismatch")


def transfer(
    address: tuple[str, int], payload: memoryview, direction: str, connections: int
) -> float:
    """Move the payload over `connections` connections at once; seconds taken."""
    step = -(-len(payload) // connections)
    slices = [(o, min(step, len(payload) - o)) for o in range(0, len(payload), step)]
    jobs: list[Callable[[], None]]
    if direction == "up":
        jobs = [functools.partial(upload, address, payload[o : o + n]) for o, n in slices]
    else:
        jobs = [functools.partial(download, address, payload, o, n) for o, n in slices]
    started = time.perf_counter()
    if len(jobs) == 1:
        jobs[0]()
    else:
        with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
            for done in [pool.submit(job) for job in jobs]:
                done.result(TIMEOUT * 4)
    return time.perf_counter() - started


def round_trips_new(address: tuple[str, int], samples: int) -> list[float]:
    """Connect, send 16 bytes, read their echo, close: seconds each."""
    times = []
    for n in range(samples):
        message = b"%016d" % n
        started = time.perf_counter()
        with _connect(address) as sock:
            sock.sendall(b"E" + message)
            echoed = bytes(recv_exact(sock, len(message)))
            times.append(time.perf_counter() - started)
        if echoed != message:
            raise BenchError(f"echo on a new connection: sent {message!r}, got {echoed!r}")
    return times


def round_trips_open(address: tuple[str, int], samples: int) -> list[float]:
    """16 bytes there and back on one open connection: seconds each."""
    times = []
    with _connect(address) as sock:
        sock.sendall(b"E")
        for n in range(samples):
            message = b"%016d" % n
            started = time.perf_counter()
            sock.sendall(message)
            echoed = bytes(recv_exact(sock, len(message)))
            times.append(time.perf_counter() - started)
            if echoed != message:
                raise BenchError(f"echo on an open connection: sent {message!r}, got {echoed!r}")
    return times


class _Pump(threading.Thread):
    """Reads a pipe to its end into `data`."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.data = b""

    def run(self) -> None:
        while chunk := os.read(self.stream.fileno(), 65536):
            self.data += chunk


@dataclasses.dataclass
class Route:
    """One way to reach the server: directly, or through a forwarding process."""

    name: str
    skipped: str = ""
    address: tuple[str, int] = ("127.0.0.1", 0)
    process: subprocess.Popen[bytes] | None = None
    pumps: tuple[_Pump, ...] = ()
    ready: float = 0.0
    seconds: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    latency: dict[str, list[float]] = dataclasses.field(default_factory=dict)
    cpu: dict[str, float] = dataclasses.field(default_factory=dict)
    moved: int = 0

    def output(self) -> str:
        return b"".join(p.data for p in self.pumps).decode("utf-8", "replace").strip()

    def cpu_now(self) -> float:
        """CPU seconds of the forwarding process tree; this script's own without one."""
        if self.process is not None:
            return tree_cpu(self.process.pid)
        own = os.times()
        return own.user + own.system


def start_forward(route: Route, argv: list[str], env: Mapping[str, str], plugin: bool) -> None:
    """Start `ssmctl forward` and wait until it listens (its JSON line, or the plugin's
    `Port N opened`)."""
    started = time.perf_counter()
    route.process = subprocess.Popen(
        argv,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert route.process.stdout is not None
    assert route.process.stderr is not None
    route.pumps = (_Pump(route.process.stdout), _Pump(route.process.stderr))
    for pump in route.pumps:
        pump.start()
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and route.process.poll() is None:
        out = route.pumps[0].data + route.pumps[1].data
        if plugin and b"Waiting for connections" in out and (m := _PLUGIN_PORT.search(out)):
            route.address = ("127.0.0.1", int(m.group(1)))
        elif not plugin and b"\n" in route.pumps[0].data:
            ready = json.loads(route.pumps[0].data.split(b"\n", 1)[0])
            route.address = (ready["local_host"], int(ready["local_port"]))
        if route.address[1]:
            route.ready = time.perf_counter() - started
            return
        time.sleep(0.01)
    status = route.process.poll()
    why = f"exit status {status}" if status is not None else f"not listening after {TIMEOUT:g} s"
    raise BenchError(f"{route.name}: {why}: {route.output()}")


def stop_forward(route: Route) -> None:
    """Ctrl-C (it ends the session and exits 0); killed if it is still there after 20 s."""
    process = route.process
    if process is None:
        return
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    for pump in route.pumps:
        pump.join(5)
    if process.returncode != 0 and route.ready:  # (one that never listened: reported)
        raise BenchError(f"{route.name}: exit status {process.returncode}: {route.output()}")


def forward_argv(ssmctl: str, mode: str, port: int, engine: str) -> list[str]:
    argv = [ssmctl, "forward", TARGETS[mode], "--remote", str(port), "--engine", engine]
    if engine == "plugin":  # the plugin chooses no port itself: give it a free one
        with socket.create_server(("127.0.0.1", 0)) as probe:
            argv += ["--local", str(probe.getsockname()[1])]
    return [*argv, "--output", "json"]


CASES = ("1 conn, upload", "1 conn, download", "N conns, upload", "N conns, download")


def measure_routes(
    routes: list[Route],
    payload: memoryview,
    sandbox_pid: int,
    args: argparse.Namespace,
) -> None:
    """Every case on every route in turn, `args.rounds` rounds; then the round trips."""
    live = [r for r in routes if not r.skipped]
    for _ in range(args.rounds):
        for case in CASES:
            direction = "up" if case.endswith("upload") else "down"
            connections = args.connections if case.startswith("N") else 1
            for route in live:
                before = route.cpu_now(), tree_cpu(sandbox_pid)
                seconds = transfer(route.address, payload, direction, connections)
                after = route.cpu_now(), tree_cpu(sandbox_pid)
                route.seconds.setdefault(case, []).append(seconds)
                route.cpu["forwarder"] = route.cpu.get("forwarder", 0.0) + after[0] - before[0]
                route.cpu["sandbox"] = route.cpu.get("sandbox", 0.0) + after[1] - before[1]
                route.moved += len(payload)
    for route in live:
        route.latency["new"] = round_trips_new(route.address, args.samples)
        route.latency["open"] = round_trips_open(route.address, args.samples * 5)


def print_routes(routes: list[Route], args: argparse.Namespace) -> None:
    direct = routes[0]
    n = args.connections
    print(
        f"\nPort forwarding: {args.megabytes:g} MB a transfer (over 1 connection, or split "
        f"over {n} at once), {args.rounds} rounds, median MB/s (ratio to direct)\n"
    )
    names = [c.replace("N conns", f"{n} conns") for c in CASES]
    print("| route | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(CASES))
    for route in routes:
        if route.skipped:
            print(f"| {route.name} | {route.skipped} |" + " |" * (len(CASES) - 1))
            continue
        cells = []
        for case in CASES:
            rate = args.megabytes / statistics.median(route.seconds[case])
            base = args.megabytes / statistics.median(direct.seconds[case])
            cells.append(f"{rate:,.1f}" + ("" if route is direct else f" ({rate / base:.3f}x)"))
        print(f"| {route.name} | " + " | ".join(cells) + " |")

    print(
        f"\nRound trip of 16 bytes (medians: {args.samples} new connections, "
        f"{args.samples * 5} on one open connection); CPU seconds per MB moved\n"
    )
    print(
        "| route | ready in | new connection | open connection | "
        "forwarder CPU s/MB | sandbox CPU s/MB |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for route in routes:
        if route.skipped:
            print(f"| {route.name} | {route.skipped} | | | | |")
            continue
        megabytes = route.moved / MB
        ready = f"{route.ready:.2f} s" if route.process else "-"
        own = route.cpu["forwarder"] / megabytes
        # The direct route has no forwarder: its figure is this script's (client and server).
        forwarder = f"{own:.4f}" if route.process else f"({own:.4f} this script)"
        print(
            f"| {route.name} | {ready} | {_median_ms(route.latency['new'])} | "
            f"{_median_ms(route.latency['open'])} | {forwarder} | "
            f"{route.cpu['sandbox'] / megabytes:.4f} |"
        )
    print()
    for route in routes[1:]:
        if route.skipped:
            continue
        ratios = [
            statistics.median(route.latency[key]) / statistics.median(direct.latency[key])
            for key in ("new", "open")
        ]
        print(
            f"{route.name} / direct, round trip: {ratios[0]:,.0f}x on a new connection, "
            f"{ratios[1]:,.0f}x on an open one"
        )


# -- the run --------------------------------------------------------------------------


def environment(base: Mapping[str, str], folder: Path) -> dict[str, str]:
    """The sandbox's environment, with empty ssmctl and AWS config files."""
    env = {k: v for k, v in base.items() if not k.startswith("SSMCTL_")}
    for name, variable in (
        ("ssmctl.yaml", "SSMCTL_CONFIG"),
        ("aws-config", "AWS_CONFIG_FILE"),
        ("aws-credentials", "AWS_SHARED_CREDENTIALS_FILE"),
    ):
        (folder / name).write_text("")
        env[variable] = str(folder / name)
    env.pop("PYTHONSTARTUP", None)
    env.update(NO_COLOR="1", TERM=env.get("TERM", "xterm-256color"))
    return env


def instance_id(env: Mapping[str, str], name: str) -> str:
    import boto3

    ec2 = boto3.client(
        "ec2",
        region_name=env["AWS_REGION"],
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    found = ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": [name]}])
    return str(found["Reservations"][0]["Instances"][0]["InstanceId"])


def candidates(ssmctl: str, env: Mapping[str, str]) -> list[Candidate]:
    py = sys.executable
    plugin = shutil.which(PLUGIN, path=env.get("PATH"))
    aws = shutil.which("aws", path=env.get("PATH"))
    native = [ssmctl, "connect", SHELL_TARGET, "--engine", "native"]
    found = [
        Candidate("python -c pass", [py, "-c", "pass"], shell=False),
        Candidate("python -c 'import boto3'", [py, "-c", "import boto3"], shell=False),
        Candidate(f"ssmctl connect {SHELL_TARGET} --engine native", native),
    ]
    name = f"ssmctl connect {SHELL_TARGET} --engine plugin"
    if plugin:
        found.append(Candidate(name, [ssmctl, "connect", SHELL_TARGET, "--engine", "plugin"]))
    else:
        found.append(Candidate(name, None, NO_PLUGIN))
    name = "aws ssm start-session --target <web-1's id>"
    if not aws:
        found.append(Candidate(name, None, "skipped: aws not on PATH"))
    elif not plugin:
        found.append(Candidate(name, None, NO_PLUGIN))
    else:
        target = instance_id(env, SHELL_TARGET)
        found.append(Candidate(name, [aws, "ssm", "start-session", "--target", target]))
    return found


def start_routes(ssmctl: str, env: Mapping[str, str], server: Server, found: list[Route]) -> None:
    """Append the direct route and start every forward (into `found`, to be stopped)."""
    found.append(Route("direct loopback (no forwarding)", address=("127.0.0.1", server.port)))
    plugin = shutil.which(PLUGIN, path=env.get("PATH"))
    for engine in ("native", "plugin"):
        for mode in ("mux", "basic"):
            route = Route(f"{engine}, {mode} ({TARGETS[mode]})")
            found.append(route)
            if engine == "plugin" and not plugin:
                route.skipped = NO_PLUGIN
                continue
            argv = forward_argv(ssmctl, mode, server.port, engine)
            start_forward(route, argv, env, plugin=engine == "plugin")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="rounds of the shell start")
    parser.add_argument("--megabytes", type=float, default=20, help="MB per transfer")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the transfers")
    parser.add_argument("--samples", type=int, default=40, help="new-connection round trips")
    args = parser.parse_args()
    ssmctl = _ssmctl()
    payload = memoryview(os.urandom(int(args.megabytes * MB)))
    failures: list[str] = []
    from ssmctl.sandbox.process import SandboxProcess

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "fleet.yaml").write_text(FLEET)
        started = time.perf_counter()
        with SandboxProcess(folder / "fleet.yaml") as sandbox:
            assert sandbox.process is not None
            print(
                f"sandbox (pid {sandbox.process.pid}) up in {time.perf_counter() - started:.1f} s"
            )
            env = environment(sandbox.env(base=os.environ), folder)
            found = candidates(ssmctl, env)
            try:
                first_output(found, env, args.runs)
                print_first_output(found, args.runs)
            except BenchError as exc:
                failures.append(f"first output: {exc}")
            server = Server(bytes(payload))
            chosen: list[Route] = []
            try:
                start_routes(ssmctl, env, server, chosen)
                measure_routes(chosen, payload, sandbox.process.pid, args)
                print_routes(chosen, args)
            except (BenchError, OSError, concurrent.futures.TimeoutError) as exc:
                failures.append(f"port forwarding: {exc}")
            finally:
                for route in chosen:
                    try:
                        stop_forward(route)
                    except BenchError as exc:
                        failures.append(str(exc))
                server.close()
            failures += server.errors
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
