"""TCP servers that play the destination of a port forward (threads, loopback)."""

from __future__ import annotations

import hashlib
import random
import socket
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Digest(socketserver.BaseRequestHandler):
    """Reads to end of input, answers with the SHA-256 (hex) and byte count, closes."""

    def handle(self) -> None:
        digest = hashlib.sha256()
        size = 0
        while data := self.request.recv(65536):
            digest.update(data)
            size += len(data)
        self.request.sendall(f"{digest.hexdigest()} {size}\n".encode())


class _Echo(socketserver.BaseRequestHandler):
    """Answers every line with "echo: <line>", until end of input."""

    def handle(self) -> None:
        reader = self.request.makefile("rb")
        for line in reader:
            self.request.sendall(b"echo: " + line)


class _Ssh(socketserver.BaseRequestHandler):
    """Speaks first, like an SSH server: its banner, then "ok: <line>" per line until
    "quit", then it hangs up."""

    def handle(self) -> None:
        self.request.sendall(b"SSH-2.0-FarEndSSH_1.0\r\n")
        for line in self.request.makefile("rb"):
            if line.strip() == b"quit":
                return
            self.request.sendall(b"ok: " + line)


def source_bytes(seed: int, size: int) -> bytes:
    """What a source destination sends for the request `seed size`."""
    return random.Random(seed).randbytes(size)


class _Source(socketserver.BaseRequestHandler):
    """Reads one line, `SEED SIZE`, sends SIZE pseudo-random bytes, and hangs up first
    (a download: the destination's side of the stream ends before the client's)."""

    def handle(self) -> None:
        line = self.request.makefile("rb").readline()
        seed, size = (int(word) for word in line.split())
        self.request.sendall(source_bytes(seed, size))


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def destination(kind: str, host: str = "127.0.0.1") -> Iterator[int]:
    """A destination server ("digest", "echo", "ssh" or "source") on host; yields its port."""
    handler = {"digest": _Digest, "echo": _Echo, "ssh": _Ssh, "source": _Source}[kind]
    server = _Server((host, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def send_and_digest(port: int, data: bytes, host: str = "127.0.0.1") -> str:
    """Send `data` to a digest destination through host:port; its answer line."""
    with socket.create_connection((host, port), timeout=60) as conn:
        conn.sendall(data)
        conn.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(4096):
            answer += chunk
    return answer.decode().strip()


def expected_digest(data: bytes) -> str:
    return f"{hashlib.sha256(data).hexdigest()} {len(data)}"


def echo_exchange(port: int, lines: list[bytes], host: str = "127.0.0.1") -> bytes:
    """Send `lines` to an echo destination and read all the echoes back; then hang up."""
    expected = sum(len(b"echo: " + line) for line in lines)
    with socket.create_connection((host, port), timeout=60) as conn:
        conn.sendall(b"".join(lines))
        answer = b""
        while len(answer) < expected and (chunk := conn.recv(65536)):
            answer += chunk
    return answer


def download(port: int, seed: int, size: int, host: str = "127.0.0.1") -> bytes:
    """Ask a source destination for `size` bytes through host:port; all it sent."""
    with socket.create_connection((host, port), timeout=60) as conn:
        conn.sendall(f"{seed} {size}\n".encode())
        answer = bytearray()
        while chunk := conn.recv(65536):
            answer += chunk
    return bytes(answer)
