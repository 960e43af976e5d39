"""Faults the simulator can inject, from a scenario or at run time.

Faults live in `faults.json` in the simulator's state directory. The running simulator
re-reads the file when it changes, so another process (a test, `remediate sim fault add`)
can inject a fault into a simulator it did not start.

Counting faults (`nth`, `times`) count matching events from the moment the fault was added:
`nth: 2, times: 1` fires on the second matching call only; `times: 0` fires on every match
from the nth on.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from remediate.support.statedir import write_private


class ErrorSpec(BaseModel):
    """The error record a failing cmdlet writes."""

    model_config = ConfigDict(extra="forbid")
    message: str = "The operation failed."
    error_id: str = "SimulatedFailure"
    category: str = "NotSpecified"
    exception: str = "System.InvalidOperationException"
    terminating: bool = True


PRESET_ERRORS: dict[str, ErrorSpec] = {
    "generic": ErrorSpec(),
    "access-denied": ErrorSpec(
        message="Access is denied.",
        error_id="UnauthorizedAccess",
        category="PermissionDenied",
        exception="System.UnauthorizedAccessException",
    ),
    "io": ErrorSpec(
        message="The process cannot access the file because it is being used by another process.",
        error_id="IOError",
        category="WriteError",
        exception="System.IO.IOException",
    ),
    "non-terminating": ErrorSpec(terminating=False),
}


class _Fault(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: int = 0
    server: str | None = None  # None: every server
    seen: int = 0  # matching events so far
    fired: int = 0

    def applies_to(self, server: str) -> bool:
        return self.server is None or self.server.lower() == server.lower()


class _CountedFault(_Fault):
    nth: int = Field(default=1, ge=1)
    times: int = Field(default=1, ge=0)  # 0: every match from the nth on
    # only calls one of whose arguments contains this text (case-insensitive): "web.config"
    # singles out the writes of the target from those of remediate's own records
    argument: str | None = None

    def mentioned_in(self, arguments: str) -> bool:
        return self.argument is None or self.argument.lower() in arguments.lower()

    def count(self) -> bool:
        """Record one matching event; True when the fault fires on it."""
        self.seen += 1
        fires = self.seen >= self.nth and (self.times == 0 or self.seen < self.nth + self.times)
        if fires:
            self.fired += 1
        return fires


class CmdletError(_CountedFault):
    """The nth call of a cmdlet fails with the given error instead of running; or, `midway`,
    half-way through a cmdlet that works in two steps (Move-Item -Force onto an existing file
    deletes the file, then the rename fails: the cmdlet reports what Windows reports)."""

    kind: Literal["cmdlet-error"] = "cmdlet-error"
    cmdlet: str
    error: ErrorSpec | Literal["generic", "access-denied", "io", "non-terminating"] = "generic"
    when: Literal["before", "midway"] = "before"

    def error_spec(self) -> ErrorSpec:
        return PRESET_ERRORS[self.error] if isinstance(self.error, str) else self.error


class CmdletDelay(_CountedFault):
    """The nth call of a cmdlet is slow: it waits `seconds` before running, after (its
    effect is then done but not yet reported), or midway through a two-step cmdlet (Move-Item
    -Force: the target deleted, the rename not yet done). A slow server, and a place to stop
    a client or cut the power."""

    kind: Literal["cmdlet-delay"] = "cmdlet-delay"
    cmdlet: str
    seconds: float = Field(default=30.0, gt=0)
    when: Literal["before", "after", "midway"] = "before"


class DropConnection(_CountedFault):
    """Reset the TCP connection instead of answering.

    With `cmdlet`, on the request that starts a pipeline calling it: `before` drops the
    request without running the pipeline, `after` runs it and drops the request that would
    have delivered its result. Without `cmdlet`, on the nth HTTP request to the server.
    """

    kind: Literal["drop-connection"] = "drop-connection"
    cmdlet: str | None = None
    when: Literal["before", "after"] = "before"


class DenyAccess(_Fault):
    """Access to a path (and everything under it) is denied."""

    kind: Literal["deny-access"] = "deny-access"
    path: str
    operations: Literal["read", "write", "all"] = "all"


class RestartFailure(_CountedFault):
    """Restarting a service fails (it stays stopped) or hangs."""

    kind: Literal["restart"] = "restart"
    mode: Literal["fail", "hang"] = "fail"
    service: str = "W3SVC"
    hang_seconds: float = 3600.0


class AppPoolFailure(_CountedFault):
    """An app pool does not come back: when IIS starts it or it is recycled, its worker process
    fails at once and IIS rapid-fail protection stops the pool (Stopped)."""

    kind: Literal["app-pool"] = "app-pool"
    pool: str


class Unreachable(_Fault):
    """The server cannot be reached: connections are reset (refuse) or never answered (blackhole)."""

    kind: Literal["unreachable"] = "unreachable"
    mode: Literal["refuse", "blackhole"] = "refuse"


Fault = Annotated[
    CmdletError | CmdletDelay | DropConnection | DenyAccess | RestartFailure | AppPoolFailure | Unreachable,
    Field(discriminator="kind"),
]
FAULT_LIST: TypeAdapter[list[Fault]] = TypeAdapter(list[Fault])
FAULT: TypeAdapter[Fault] = TypeAdapter(Fault)


RECHECK_SECONDS = 0.02


class FaultBook:
    """The active faults of one simulator, shared with other processes through a file."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.RLock()
        self._faults: list[Fault] = []
        self._mtime_ns = -1
        self._checked = 0.0
        self._reload(force=True)

    # -- persistence ---------------------------------------------------------------

    def _reload(self, force: bool = False) -> None:
        """Pick up faults another process added. The running simulator asks on every request:
        it looks at the file at most every RECHECK_SECONDS."""
        now = time.monotonic()
        if not force and now - self._checked < RECHECK_SECONDS:
            return
        self._checked = now
        try:
            stat = self._path.stat()
        except FileNotFoundError:
            self._faults, self._mtime_ns = [], -1
            return
        if stat.st_mtime_ns == self._mtime_ns:
            return
        self._faults = FAULT_LIST.validate_json(self._path.read_bytes() or b"[]")
        self._mtime_ns = stat.st_mtime_ns

    def _save(self) -> None:
        write_private(self._path, FAULT_LIST.dump_json(self._faults, indent=2))
        self._mtime_ns = os.stat(self._path).st_mtime_ns

    def _active(self, server: str) -> list[Fault]:
        self._reload()
        return [fault for fault in self._faults if fault.applies_to(server)]

    # -- management ------------------------------------------------------------------

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._reload(force=True)
            fault = fault.model_copy(update={"id": max((f.id for f in self._faults), default=0) + 1})
            self._faults.append(fault)
            self._save()
            return fault

    def clear(self, fault_id: int | None = None) -> None:
        with self._lock:
            self._reload(force=True)
            self._faults = [f for f in self._faults if fault_id is not None and f.id != fault_id]
            self._save()

    def active(self) -> list[Fault]:
        with self._lock:
            self._reload(force=True)
            return [fault.model_copy() for fault in self._faults]

    # -- queries from the running simulator -----------------------------------------

    def _count(self, candidates: list[_CountedFault]) -> _CountedFault | None:
        fired = None
        for fault in candidates:
            if fault.count() and fired is None:
                fired = fault
        if candidates:
            self._save()
        return fired

    def cmdlet_error(self, server: str, cmdlet: str, arguments: str = "") -> CmdletError | None:
        with self._lock:
            candidates = [
                f
                for f in self._active(server)
                if isinstance(f, CmdletError)
                and f.cmdlet.lower() == cmdlet.lower()
                and f.mentioned_in(arguments)
            ]
            fired = self._count(list(candidates))
            return fired if isinstance(fired, CmdletError) else None

    def cmdlet_delay(self, server: str, cmdlet: str, arguments: str = "") -> CmdletDelay | None:
        with self._lock:
            candidates: list[_CountedFault] = [
                f
                for f in self._active(server)
                if isinstance(f, CmdletDelay)
                and f.cmdlet.lower() == cmdlet.lower()
                and f.mentioned_in(arguments)
            ]
            fired = self._count(list(candidates))
            return fired if isinstance(fired, CmdletDelay) else None

    def drop_request(self, server: str) -> bool:
        with self._lock:
            candidates = [
                f for f in self._active(server) if isinstance(f, DropConnection) and f.cmdlet is None
            ]
            return self._count(list(candidates)) is not None

    def drop_pipeline(
        self, server: str, commands: list[tuple[str, str]]
    ) -> Literal["before", "after"] | None:
        """A fault on the request that starts a pipeline: one of its commands (name, that
        command's own arguments) is the fault's cmdlet, with the fault's argument among its own
        (a batch of statements is one pipeline: another statement's arguments do not count)."""
        with self._lock:
            candidates = [
                f
                for f in self._active(server)
                if isinstance(f, DropConnection)
                and f.cmdlet is not None
                and any(
                    name.lower() == f.cmdlet.lower() and f.mentioned_in(arguments)
                    for name, arguments in commands
                )
            ]
            fired = self._count(list(candidates))
            return fired.when if isinstance(fired, DropConnection) else None

    def denied(self, server: str, path_key: str, operation: Literal["read", "write"]) -> bool:
        with self._lock:
            for fault in self._active(server):
                if isinstance(fault, DenyAccess) and fault.operations in (operation, "all"):
                    denied = fault.path.replace("/", "\\").rstrip("\\").lower()
                    if path_key == denied or path_key.startswith(denied + "\\"):
                        return True
            return False

    def restart_failure(self, server: str, service: str) -> RestartFailure | None:
        with self._lock:
            candidates = [
                f
                for f in self._active(server)
                if isinstance(f, RestartFailure) and f.service.lower() == service.lower()
            ]
            fired = self._count(list(candidates))
            return fired if isinstance(fired, RestartFailure) else None

    def app_pool_fails(self, server: str, pool: str) -> bool:
        with self._lock:
            candidates = [
                f
                for f in self._active(server)
                if isinstance(f, AppPoolFailure) and f.pool.lower() == pool.lower()
            ]
            return self._count(list(candidates)) is not None

    def unreachable(self, server: str) -> Literal["refuse", "blackhole"] | None:
        with self._lock:
            for fault in self._active(server):
                if isinstance(fault, Unreachable):
                    return fault.mode
            return None
