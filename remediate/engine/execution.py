"""An execution of a run (an apply, or a rollback): its sessions and journal, reconnecting,
the locks, and the handlers with the health check after them. `engine.apply` and
`engine.undo` build on it; `engine.restore` puts one target back."""

from __future__ import annotations

import concurrent.futures
import contextvars
import functools
import time
from collections.abc import Callable, Iterable
from typing import Any

from remediate.engine.journal import Journal
from remediate.engine.locks import Place, acquire, organization_lock, release, server_lock
from remediate.engine.steps import (
    HANDLER_STARTED,
    LOCKING,
    ORG_LOCKING,
    ORG_UNLOCKED,
    SHELL_OPENED,
    Item,
    Progress,
)
from remediate.kinds.handlers import REGISTRY as HANDLERS
from remediate.model.status import ACTIVE, StepStatus
from remediate.support import logs
from remediate.support.errors import RemediateError
from remediate.support.logs import get_logger
from remediate.winrm.reader import ServerReader
from remediate.winrm.session import Session
from remediate.winrm.settings import CONNECTION_ERRORS
from remediate.winrm.writer import ServerWriter

log = get_logger(__name__)
DEFAULT_FORKS = 50  # servers worked on at once: their threads mostly wait on the network


def each(
    forks: int, things: list[Any], action: Callable[[Any], Any], progress: Callable[[str, str], None]
) -> list[Any]:
    """`action` on each of `things` (one per server), up to `forks` at once; their results, in
    order. Every started action runs to its end before this returns or raises, so nothing is
    still writing when the caller reacts: the first failure is then raised (in `things`' order).
    Ctrl-C: the actions not started are cancelled, the started ones finish, then it goes on."""
    if len(things) <= 1 or forks <= 1:
        return [action(thing) for thing in things]
    pool = concurrent.futures.ThreadPoolExecutor(min(forks, len(things)), thread_name_prefix="server")
    futures = [pool.submit(contextvars.copy_context().run, action, thing) for thing in things]
    try:
        concurrent.futures.wait(futures)
    except KeyboardInterrupt:
        for future in futures:
            future.cancel()
        progress("", "interrupted: waiting for the servers' current steps to finish")
        _wait_out(futures)
        raise
    finally:
        pool.shutdown(wait=False)
    failures = [error for future in futures if (error := future.exception()) is not None]
    if failures:
        raise next((e for e in failures if isinstance(e, RemediateError)), failures[0])
    return [future.result() for future in futures]


def each_in_turn(
    forks: int, items: list[Any], action: Callable[[Any], Any], progress: Callable[[str, str], None]
) -> list[Any]:
    """`action` on each item (with a `server`): a server's items one after another in their order,
    the servers at once (see `each`); the results in `items`' order."""
    results: dict[int, Any] = {}

    def server_part(server: str) -> None:
        for index, item in enumerate(items):
            if item.server == server:
                results[index] = action(item)

    each(forks, list(dict.fromkeys(item.server for item in items)), server_part, progress)
    return [results[index] for index in range(len(items))]


def _wait_out(futures: list[concurrent.futures.Future[Any]]) -> None:
    """Wait for started actions even through another Ctrl-C: they may be writing."""
    while True:
        try:
            concurrent.futures.wait(futures)
            return
        except KeyboardInterrupt:
            continue


class Execution:
    """What an apply and a rollback share while they run: sessions, journal, locks, handlers."""

    def __init__(
        self,
        journal: Journal,
        sessions: dict[str, Session],
        run_id: str,
        progress: Progress,
        health_timeout: float,
        forks: int = DEFAULT_FORKS,
    ) -> None:
        self.forks = max(1, forks)
        self.journal = journal
        self.sessions = sessions
        self.run_id = run_id
        self.health_timeout = health_timeout
        self.locks: dict[str, str] = {}
        self.org_lock: str | None = None  # the server through which the run holds the organization lock
        # app pool states before a server's handler first ran in this run: health is judged
        # against them, also when the handlers run again after a rollback
        self.baselines: dict[tuple[str, str], dict[str, str]] = {}
        logs.bind(run=run_id)  # every log line of the run carries it
        run = journal.run(run_id)
        log.info(
            "run started",
            kind=run.kind,
            playbook=run.playbook,
            operator=run.operator,
            change_id=run.change_id,
            servers=sorted(sessions),
        )
        for server, session in sessions.items():
            # journaled before anything is written: if this process dies, a rollback finds the
            # shells it left on the servers and stops what they still run before reading state
            for endpoint, shell_id in session.open_shells():
                self._shell_opened(server, endpoint, shell_id)
            session.on_open = functools.partial(self._shell_opened, server)

        def logged(server: str, message: str) -> None:
            log.info("progress", server=server or None, detail=message)  # one event name, the text a field
            progress(server, message)

        self.progress = logged

    def each(self, things: list[Any], action: Callable[[Any], Any]) -> list[Any]:
        """`action` on each server (or item) at once, up to `forks` (see `each`)."""
        return each(self.forks, things, action, self.progress)

    def each_in_turn(self, items: list[Any], action: Callable[[Any], Any]) -> list[Any]:
        """`action` on each item, each server's in turn, the servers at once (see `each_in_turn`)."""
        return each_in_turn(self.forks, items, action, self.progress)

    def _shell_opened(self, server: str, endpoint: str, shell_id: str) -> None:
        self.journal.event(self.run_id, server, f"{SHELL_OPENED} {endpoint} {shell_id}")

    # -- plumbing ------------------------------------------------------------------------------

    def reader(self, server: str) -> ServerReader:
        """A ServerReader with an empty cache: every read of state is made afresh (the environment
        variables, which do not change during a run, are remembered by the session)."""
        return ServerReader(self.sessions[server])

    def writer(self, server: str) -> ServerWriter:
        return ServerWriter(self.sessions[server])

    def with_reconnect(self, server: str, action: Callable[[], Any]) -> Any:
        """Run `action`; after a lost connection, reopen the server's pools and try once more.

        Only used where repeating is safe: every step re-reads the state before acting on it.
        """
        try:
            return action()
        except RemediateError as error:
            if error.reference not in CONNECTION_ERRORS:
                raise
            self.progress(server, f"reconnecting after: {error.message}")
            self.sessions[server].reset()
            return action()

    def holder_alive(self, holder: dict[str, Any]) -> bool | None:
        """Whether the run holding a lock is still running: True, False (provably dead: this
        journal says it ended or its process on this machine is gone), None (cannot tell)."""
        import socket

        from remediate.engine.journal import process_alive

        try:
            run = self.journal.run(str(holder.get("run")))
        except RemediateError:
            run = None
        if run is not None and run.machine == socket.gethostname():
            return run.status in ACTIVE
        pid = holder.get("pid")
        if holder.get("host") == socket.gethostname() and isinstance(pid, int):
            return process_alive(pid)
        return None

    def lock(
        self,
        servers: Iterable[str],
        operator: str,
        takeover: frozenset[str],
        break_lock: str | None,
        organization_via: str | None = None,
    ) -> None:
        """Take each server's lock, then, when the run changes organization-wide objects, the
        organization's lock (through `organization_via`'s Exchange session)."""

        def take(server: str) -> None:
            # journaled first: a run killed right after New-Item is known to hold the lock
            self.journal.event(self.run_id, server, LOCKING)
            place = server_lock(self.reader(server), self.writer(server))
            self._acquire(place, operator, takeover, break_lock)
            self.locks[server] = place.where
            self.journal.event(self.run_id, server, f"locked {place.where}")

        # One after another, in one order for every run (not at once): two runs wanting the same
        # servers must not each win some of them and both be refused; whoever takes the first
        # one goes on.
        for server in sorted(servers, key=str.lower):
            take(server)
        if organization_via is not None:
            self.journal.event(self.run_id, organization_via, ORG_LOCKING)
            place = organization_lock(self.reader(organization_via), self.writer(organization_via))
            self._acquire(place, operator, takeover, break_lock)
            self.org_lock = organization_via
            self.journal.event(self.run_id, organization_via, "locked the organization")

    def _acquire(self, place: Place, operator: str, takeover: frozenset[str], break_lock: str | None) -> None:
        acquire(
            place, self.run_id, operator, takeover=takeover, break_lock=break_lock, alive=self.holder_alive
        )

    def unlock(self) -> None:
        if self.org_lock is not None:
            via, self.org_lock = self.org_lock, None
            try:
                ours = self.with_reconnect(
                    via, lambda: release(organization_lock(self.reader(via), self.writer(via)), self.run_id)
                )
                self.journal.event(
                    self.run_id, via, ORG_UNLOCKED + ("" if ours else " (another run's: left alone)")
                )
            except RemediateError as error:
                self.journal.event(
                    self.run_id, via, f"could not remove the organization lock: {error.message}"
                )

        def free(held: tuple[str, str]) -> None:
            server, path = held
            try:
                ours = self.with_reconnect(
                    server,
                    lambda: release(server_lock(self.reader(server), self.writer(server)), self.run_id),
                )
                self.journal.event(
                    self.run_id,
                    server,
                    "unlocked" if ours else "unlocked (the lock was another run's: left alone)",
                )
            except RemediateError as error:
                self.journal.event(self.run_id, server, f"could not remove the lock {path}: {error.message}")
            self.locks.pop(server, None)

        self.each(list(self.locks.items()), free)

    def step_status(self, item: Item, status: StepStatus, **fields: Any) -> None:
        item.status = status
        self.journal.update_step(self.run_id, item.seq, status=status, **fields)

    # -- handlers ---------------------------------------------------------------------------------

    def run_handlers(self, wanted: dict[str, list[str]], handlers: dict[str, dict[str, Any]]) -> list[str]:
        """Run each server's notified handlers once, in the playbook's order (`handlers`'s, as the
        plan shows them: refresh, then restart), each followed by waiting until the server is
        healthy. Raises on failure."""

        def server_handlers(server: str) -> list[str]:
            lines = []
            for name in sorted(wanted[server], key=list(handlers).index):
                kind = HANDLERS[handlers[name]["kind"]]
                settings = kind.spec.model_validate(handlers[name]["settings"])
                key = (server, name)
                if key not in self.baselines:
                    self.baselines[key] = self.with_reconnect(
                        server, functools.partial(kind.baseline, settings, self.writer(server))
                    )
                before = self.baselines[key]
                limit = self.sessions[server].connection.restart_timeout
                self.progress(
                    server, f"handler {name}: {'; '.join(kind.commands(settings))} (up to {limit:g}s)"
                )
                self.journal.event(self.run_id, server, f"{HANDLER_STARTED} {name}")
                notes = self.with_reconnect(
                    server, functools.partial(kind.run, settings, self.writer(server), before)
                )
                self.journal.event(self.run_id, server, f"ran handler {name}")
                self.wait_healthy(server, kind, settings, name, before)
                lines.append(f"{server}: {name} ran; healthy" + "".join(f"; {note}" for note in notes))
            return lines

        return [line for lines in self.each(list(wanted), server_handlers) for line in lines]

    def wait_healthy(self, server: str, kind: Any, settings: Any, name: str, before: dict[str, str]) -> None:
        deadline = time.monotonic() + self.health_timeout
        said = time.monotonic()
        self.progress(server, f"checking health after {name} (up to {self.health_timeout:g}s)")
        while True:
            try:
                problem = self.with_reconnect(
                    server, lambda: kind.health(settings, self.writer(server), before)
                )
            except RemediateError as error:  # right after a restart a read may fail: ask again
                problem = f"cannot check: {error.message}"
            if problem is None:
                self.journal.event(self.run_id, server, f"healthy after {name}")
                return
            if time.monotonic() - said >= 5:  # on a terminal, the wait is seen, with what it waits for
                said = time.monotonic()
                self.progress(server, f"not healthy yet: {problem} ({max(0.0, deadline - said):.0f}s left)")
            if time.monotonic() >= deadline:
                raise RemediateError(
                    "health-check-failed",
                    f"{server}: not healthy {self.health_timeout:g}s after {name}: {problem}",
                    "check the services and app pools on the server (Get-Service, IIS Manager)",
                )
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
