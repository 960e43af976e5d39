"""PSRP runspace pools and pipelines on psrpcore's server classes.

One `Shell` is one WinRS shell: a psrpcore ServerRunspacePool plus the pipelines created in
it. Pipelines run on their own threads; what they write is queued per target (the pool or a
pipeline) until the client's Receive for that target collects it. psrpcore is not
thread-safe, so everything that touches the pool holds `Shell.cond`.

psrpcore quirks handled here (see ../shared/reference/winrm-simulator.md): PipelineState
Running is never emitted (Windows does not), a failed pipeline needs psrpcore's
`_change_state(Failed, error=...)`, and pipelines the client never closes are dropped with
the shell.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from psrpcore import ServerPipeline, ServerRunspacePool
from psrpcore._events import (  # psrpcore exports these from its private module only
    CreatePipelineEvent,
    EndOfPipelineInputEvent,
    PipelineInputEvent,
)
from psrpcore._payload import PSRPPayload, StreamType
from psrpcore.types import PSInvocationState, PSRPMessageType, PSVersion

from remediate.sim.audit import AuditTrail
from remediate.sim.engine import Command, Session, Stop
from remediate.sim.machine import Machine
from remediate.sim.records import PSError, error_record
from remediate.sim.runner import PipelineRun, Sinks, Terminated
from remediate.support.logs import get_logger

log = get_logger(__name__)

# Fragment size for queued output. A Receive response carries as many as fit in the
# client's MaxEnvelopeSize; this keeps one fragment well under pypsrp's smallest (150 KiB).
FRAGMENT_SIZE = 96 * 1024
# How long a Receive that has output waits for more (or for the end) before answering.
LINGER_SECONDS = 0.05


def private_data() -> dict[str, Any]:
    """ApplicationPrivateData of a Windows Server 2019 / PowerShell 5.1 endpoint."""
    return {
        "PSVersionTable": {
            "PSVersion": PSVersion("5.1.17763.1"),
            "PSEdition": "Desktop",
            "BuildVersion": PSVersion("10.0.17763.1"),
            "CLRVersion": PSVersion("4.0.30319.42000"),
            "WSManStackVersion": PSVersion("3.0"),
            "PSRemotingProtocolVersion": PSVersion("2.3"),
            "SerializationVersion": PSVersion("1.1.0.1"),
        }
    }


@dataclass
class PipelineSlot:
    pipeline_id: uuid.UUID
    input: list[Any] = field(default_factory=list)
    commands: list[Command] | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    started: bool = False
    finished: bool = False  # the final state message is queued
    stopped: bool = False  # the client signalled stop or terminate
    drop_when_done: bool = False  # fault: reset the connection instead of delivering the end
    thread: threading.Thread | None = None


class ShellClosed(Exception):
    """The shell was deleted, or broken (an IIS restart ends Exchange endpoint sessions)."""


class ReceiveTimeout(Exception):
    pass


class Shell:
    def __init__(
        self, shell_id: str, resource_uri: str, session: Session, machine: Machine, audit: AuditTrail
    ) -> None:
        self.id = shell_id
        self.resource_uri = resource_uri
        self.session = session
        self.machine = machine
        self.audit = audit
        self.created = time.time()
        self.cond = threading.Condition()
        self.pool = ServerRunspacePool(application_private_data=private_data())
        self.queues: dict[uuid.UUID | None, collections.deque[bytes]] = collections.defaultdict(
            collections.deque
        )
        self.slots: dict[uuid.UUID, PipelineSlot] = {}
        self.closed_reason: str | None = None

    # -- input from the client ----------------------------------------------------------------

    def feed(self, data: bytes, pipeline_id: uuid.UUID | None = None) -> list[PipelineSlot]:
        """Process PSRP fragments; return the pipelines that are now ready to start."""
        ready: list[PipelineSlot] = []
        with self.cond:
            self._check_open()
            self.pool.receive_data(PSRPPayload(data, StreamType.default, pipeline_id))
            while (event := self.pool.next_event()) is not None:
                slot = self.slots.get(event.pipeline_id) if event.pipeline_id else None
                if isinstance(event, CreatePipelineEvent) and slot is not None:
                    metadata = event.pipeline
                    slot.commands = [
                        Command(c.command_text, bool(c.is_script), list(c.parameters), c.end_of_statement)
                        for c in metadata.commands
                    ]
                    if metadata.no_input:
                        ready.append(slot)
                elif isinstance(event, PipelineInputEvent) and slot is not None:
                    slot.input.append(event.data)
                elif isinstance(event, EndOfPipelineInputEvent) and slot is not None:
                    ready.append(slot)
            self._drain()
            self.cond.notify_all()
        return ready

    def new_pipeline(self, pipeline_id: uuid.UUID) -> PipelineSlot:
        with self.cond:
            self._check_open()
            ServerPipeline(self.pool, pipeline_id)
            slot = self.slots[pipeline_id] = PipelineSlot(pipeline_id)
            return slot

    def start(self, slot: PipelineSlot) -> None:
        slot.started = True
        slot.thread = threading.Thread(
            target=self._run, args=(slot,), name=f"sim-{self.machine.name}-pipeline", daemon=True
        )
        slot.thread.start()

    def discard(self, slot: PipelineSlot) -> None:
        """Forget a pipeline that will never run (a dropped request)."""
        with self.cond:
            self.slots.pop(slot.pipeline_id, None)
            self.pool.pipeline_table.pop(slot.pipeline_id, None)

    def signal(self, pipeline_id: uuid.UUID) -> None:
        """ctrl_c or terminate: stop the pipeline if it runs, forget its output."""
        with self.cond:
            slot = self.slots.get(pipeline_id)
            if slot is None:
                return
            slot.stopped = True
            slot.cancelled.set()
            self.queues.pop(pipeline_id, None)
            if not slot.started or slot.finished:
                self._forget(slot)
            self.cond.notify_all()

    def close(self, reason: str) -> None:
        with self.cond:
            self.closed_reason = reason
            for slot in self.slots.values():
                slot.stopped = True
                slot.cancelled.set()
            self.pool.pipeline_table.clear()
            self.cond.notify_all()

    def wait_stopped(self, timeout: float) -> None:
        """Wait (at most `timeout` seconds) until no pipeline of this shell is still running."""
        deadline = time.monotonic() + timeout
        for slot in list(self.slots.values()):
            thread = slot.thread
            if thread is not None and thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    # -- output to the client ------------------------------------------------------------------

    def receive(
        self, pipeline_id: uuid.UUID | None, timeout: float, budget: int
    ) -> tuple[list[bytes], bool, PipelineSlot | None]:
        """Wait for output for one target; return (chunks, done, slot)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                self._check_open()
                slot = self.slots.get(pipeline_id) if pipeline_id else None
                queue = self.queues.get(pipeline_id)
                if slot is not None and slot.finished:
                    break
                if queue:
                    if slot is not None:
                        self._linger(slot, deadline)
                        queue = self.queues.get(pipeline_id)
                    break
                if pipeline_id is not None and slot is None:
                    raise KeyError(pipeline_id)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ReceiveTimeout()
                self.cond.wait(remaining)
            chunks: list[bytes] = []
            size = 0
            while queue and (not chunks or size + len(queue[0]) <= budget):
                chunk = queue.popleft()
                chunks.append(chunk)
                size += len(chunk)
            done = slot is not None and slot.finished and not queue
            if done and slot is not None:
                self._forget(slot)
            return chunks, done, slot

    # -- internals -------------------------------------------------------------------------------

    def _linger(self, slot: PipelineSlot, deadline: float) -> None:
        """Like WinRM, hold a Receive that has output briefly, so output and the end of a
        quick pipeline travel in one response. Call with `cond` held."""
        until = min(deadline, time.monotonic() + LINGER_SECONDS)
        queued = len(self.queues.get(slot.pipeline_id, ()))
        while not slot.finished and time.monotonic() < until:
            if len(self.queues.get(slot.pipeline_id, ())) > queued + 8:
                return  # plenty to send already
            self.cond.wait(until - time.monotonic())

    def _check_open(self) -> None:
        if self.closed_reason is not None:
            raise ShellClosed(self.closed_reason)

    def _drain(self) -> None:
        while (payload := self.pool.data_to_send(FRAGMENT_SIZE)) is not None:
            slot = self.slots.get(payload.pipeline_id) if payload.pipeline_id else None
            if slot is not None and slot.stopped:
                continue
            self.queues[payload.pipeline_id].append(payload.data)

    def _forget(self, slot: PipelineSlot) -> None:
        self.slots.pop(slot.pipeline_id, None)
        self.queues.pop(slot.pipeline_id, None)
        self.pool.pipeline_table.pop(slot.pipeline_id, None)

    def _emit(self, slot: PipelineSlot, action: Any) -> None:
        with self.cond:
            if slot.stopped or self.closed_reason is not None:
                return
            pipeline = self.pool.pipeline_table.get(slot.pipeline_id)
            if pipeline is None:
                return
            action(pipeline)
            self._drain()
            self.cond.notify_all()

    def _sinks(self, slot: PipelineSlot) -> Sinks:
        def output(value: Any) -> None:
            self._emit(slot, lambda p: p.write_output(value))

        def error(error: PSError, command: str, command_id: str, position: int, length: int) -> None:
            record = error_record(error, command, command_id, position, length)
            self._emit(slot, lambda p: p.prepare_message(record, message_type=PSRPMessageType.ErrorRecord))

        def warning(text: str) -> None:
            self._emit(slot, lambda p: p.write_warning(text))

        return Sinks(output, error, warning)

    def _run(self, slot: PipelineSlot) -> None:
        with self.cond:
            pipeline = self.pool.pipeline_table.get(slot.pipeline_id)
            if pipeline is None:
                return
            pipeline._change_state(PSInvocationState.Running, emit=False)
        final, failure = PSInvocationState.Completed, None
        run = PipelineRun(
            slot.commands or [],
            self.session,
            self.machine,
            self.audit,
            self._sinks(slot),
            slot.cancelled,
            slot.input,
        )
        try:
            run.run()
        except Terminated as ended:
            final = PSInvocationState.Failed
            failure = error_record(ended.error, ended.command, ended.command_id, ended.position, ended.length)
        except Stop:
            final = PSInvocationState.Stopped
        except Exception:  # a simulator bug must not hang the client: fail the pipeline, say why
            log.exception("simulated pipeline crashed", server=self.machine.name)
            final = PSInvocationState.Failed
            failure = error_record(
                PSError(
                    "The remediate simulator failed while running this pipeline.",
                    "SimulatorError",
                    exception="System.InvalidOperationException",
                    terminating=True,
                    qualified=True,
                ),
                "",
                "",
            )
        with self.cond:
            pipeline = self.pool.pipeline_table.get(slot.pipeline_id)
            if pipeline is not None and not slot.stopped and self.closed_reason is None:
                if final == PSInvocationState.Stopped:
                    pipeline.stop()
                else:
                    pipeline._change_state(final, error=failure)
                self._drain()
                slot.finished = True
            elif pipeline is not None:
                pipeline._change_state(PSInvocationState.Stopped, emit=False)
                self._forget(slot)
            self.cond.notify_all()
