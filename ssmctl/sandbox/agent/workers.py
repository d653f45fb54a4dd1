"""Which worker runs a session, by session type and port-forwarding mode."""

from __future__ import annotations

from ssmctl.datachannel.handshake import SessionType
from ssmctl.datachannel.versions import PortMode
from ssmctl.sandbox.agent.command import CommandWorker
from ssmctl.sandbox.agent.mux import MuxPortWorker
from ssmctl.sandbox.agent.plan import SessionPlan
from ssmctl.sandbox.agent.ports import BasicPortWorker, StdioPortWorker
from ssmctl.sandbox.agent.shell import ShellWorker
from ssmctl.sandbox.agent.worker import Worker, WorkerContext


def check(plan: SessionPlan) -> None:
    """Raise PlanError now for a document the worker could not run."""
    if plan.session_type in (
        SessionType.INTERACTIVE_COMMANDS,
        SessionType.NON_INTERACTIVE_COMMANDS,
    ):
        _ = plan.command
    elif plan.session_type is SessionType.PORT:
        _ = plan.port_number


def make_worker(plan: SessionPlan, context: WorkerContext) -> Worker:
    """The worker for `plan` (call in the agent's event loop)."""
    if plan.session_type is SessionType.NON_INTERACTIVE_COMMANDS:
        return CommandWorker(context)
    if plan.session_type is not SessionType.PORT:
        return ShellWorker(context)
    mode = plan.port_mode
    if mode is PortMode.MUX:
        return MuxPortWorker(context)
    if mode is PortMode.BASIC:
        return BasicPortWorker(context)
    return StdioPortWorker(context)
