"""Port sessions without multiplexing: basic port forwarding and SSH-style stdio.

Both carry raw bytes as Output messages (at most 1024 bytes each) between the client
and one TCP connection to the destination, which is dialled as the session starts (a
server that speaks first, like SSH, is heard at once).

- basic (`type: LocalPortForwarding` with an agent at or below 3.0.196.0): the client
  serves one local TCP connection at a time; Flag 1 (DisconnectToPort) says it hung up,
  so the destination connection is closed and a new one dialled for the next. When the
  destination hangs up first, the next bytes from the client dial again.
- stdio (no `type`: AWS-StartSSHSession): the session ends when the destination hangs up.
"""

from __future__ import annotations

from ssmctl.datachannel.chunking import chunk_bytes
from ssmctl.datachannel.constants import FlagCode, PayloadType
from ssmctl.sandbox.agent.relay import Relay
from ssmctl.sandbox.agent.worker import TERMINATED, Ending, TaskKeeper, WorkerContext, failure


def connect_failure(address: str, exc: OSError) -> Ending:
    reason = exc.strerror or str(exc) or type(exc).__name__
    return failure(
        f"Cannot connect to {address}: {reason}.",
        f"Unable to start port forwarding: cannot connect to {address} ({reason}).",
    )


class BasicPortWorker(TaskKeeper):
    """Basic port forwarding; see the module docstring."""

    def __init__(self, context: WorkerContext) -> None:
        super().__init__()
        self.context = context
        self.host = context.plan.destination_host
        self.port = context.plan.port_number
        self.relay: Relay | None = None

    async def run(self) -> Ending:
        relay = self._new_relay()
        try:
            await relay.connect()
        except OSError as exc:
            return connect_failure(relay.address, exc)
        return await self.ended

    def input(self, data: bytes) -> None:
        relay = self.relay
        if relay is None or relay.closed:
            relay = self._new_relay()
            self._dial(relay)
        relay.write(data)

    def resize(self, cols: int, rows: int) -> None:
        """No terminal: Size is ignored."""

    def flag(self, code: int) -> None:
        if code == FlagCode.DISCONNECT_TO_PORT:
            old = self.relay
            if old is not None:
                self._spawn(old.close())
            self._dial(self._new_relay())

    async def stop(self) -> None:
        await self._stop_tasks()
        if self.relay is not None:
            await self.relay.close()

    def _new_relay(self) -> Relay:
        self.relay = Relay(self.host, self.port, on_data=self._to_client, on_eof=self._eof)
        return self.relay

    def _dial(self, relay: Relay) -> None:
        async def dial() -> None:
            try:
                await relay.connect()
            except OSError as exc:
                self._end(connect_failure(relay.address, exc))

        self._spawn(dial())

    async def _to_client(self, relay: Relay, data: bytes) -> None:
        for chunk in chunk_bytes(data):
            await self.context.send(PayloadType.OUTPUT, chunk)

    async def _eof(self, relay: Relay) -> None:
        # The destination hung up on the local client: the next bytes dial again.
        await relay.close()


class StdioPortWorker(BasicPortWorker):
    """stdin/stdout forwarding (AWS-StartSSHSession); see the module docstring."""

    def flag(self, code: int) -> None:
        """No local connections to hang up: flags mean nothing here."""

    async def _eof(self, relay: Relay) -> None:
        self._end(Ending(TERMINATED, "exit", f"The connection to {relay.address} closed."))
