"""Applying a plan, and rolling back: snapshot before every write, verify after, undo on failure.

For each planned change, in order: (1) before the first write, every target is read again
and compared with the plan (if one moved, nothing is touched); (2) its exact state is
committed to the journal, and files are also copied beside themselves on the server; (3)
the new state is written (files through a checked temporary file moved over the target);
(4) it is read back and compared. Handlers run once, after the steps; then a health check.
Any failure rolls back every change of the batch in reverse order, runs the handlers again,
and reports each step; a rollback step that fails does not stop the others. The `Runner` here
(locks, handlers, undo) also serves `remediate.engine.undo`, which rolls a run back later.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from remediate.support import logs
from remediate.winrm.writer import Changer, sha256
from remediate.support.errors import RemediateError
from remediate.kinds.handlers import HANDLER_KINDS
from remediate.engine.journal import Journal, now
from remediate.engine.locks import acquire, organization_lock, release, server_lock
from remediate.support.logs import get_logger
from remediate.model.plan import Plan
from remediate.model.playbook import LoadedPlaybook
from remediate.winrm.reader import Remote
from remediate.kinds.resources import REGISTRY, Resource
from remediate.winrm.session import Session
from remediate.winrm.settings import CONNECTION_ERRORS

log = get_logger(__name__)
Progress = Callable[[str, str], None]  # (server, what is happening)
# Step statuses after which the target may differ from its snapshot: every one from "snapshot
# durable" until "confirmed back to the snapshot" (rolled-back). A rollback that was stopped
# half-way (rolling-back) may have deleted the target (Move-Item) or written part of it.
MAY_HAVE_WRITTEN = (
    "snapshotted",
    "writing",
    "written",
    "verified",
    "rolling-back",
    "rollback-failed",
    "rollback-conflict",
)
LOCKING = "taking the lock"
ORG_LOCKING = "taking the organization lock"
ORG_UNLOCKED = "unlocked the organization"
HANDLER_STARTED = "running handler"  # journaled before a handler runs; "healthy after" ends it
SHELL_OPENED = "opened shell"  # "opened shell <endpoint> <ShellId>": a runspace pool of the run


@dataclass
class Item:
    """One change to make (or undo): where, what, and its exact states."""

    seq: int
    server: str  # the session that carries it (for organization steps, the server they go through)
    step: str
    kind: str
    spec: Any
    target: str
    before: bytes
    after: bytes
    notify: list[str]
    scope: str
    backup: str | None = None
    status: str = "planned"
    summary: str = ""
    diff: str | None = None
    # the runs whose temporary files for this target may be left: the one that made the change,
    # and its rollbacks that died
    leftovers: tuple[str, ...] = ()

    @property
    def resource(self) -> Resource:
        return REGISTRY[self.kind]


def record(journal: Journal, run_id: str, items: list[Item]) -> None:
    """Put a run's steps in the journal (status planned) before any of them is acted on."""
    for item in items:
        journal.add_step(
            run_id,
            item.seq,
            server=item.server,
            step=item.step,
            kind=item.kind,
            scope=item.scope,
            spec=item.spec.model_dump(exclude_unset=True),
            target=item.target,
            summary=item.summary,
            diff=item.diff,
            notify=item.notify,
        )


@dataclass(frozen=True)
class StepReport:
    seq: int
    server: str
    step: str
    target: str
    status: str
    message: str
    backup: str | None = None


@dataclass
class Outcome:
    run_id: str
    kind: str
    status: str
    steps: list[StepReport] = field(default_factory=list)
    handlers: list[str] = field(default_factory=list)
    failure: RemediateError | None = None
    servers: dict[str, str] = field(
        default_factory=dict
    )  # server -> applied, rolled back, untouched, unchanged

    @property
    def ok(self) -> bool:
        return self.status in ("succeeded", "no-change")

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "kind": self.kind,
            "status": self.status,
            "failure": None
            if self.failure is None
            else {
                "reference": self.failure.reference,
                "message": self.failure.message,
                "hint": self.failure.hint,
            },
            "steps": [s.__dict__ for s in self.steps],
            "handlers": self.handlers,
            "servers": self.servers,
        }


class Runner:
    """What an apply and a rollback share: sessions, journal, locks, handlers, undo."""

    def __init__(
        self,
        journal: Journal,
        sessions: dict[str, Session],
        run_id: str,
        progress: Progress,
        health_timeout: float,
    ) -> None:
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
        log.info("run started", servers=sorted(sessions))
        for server, session in sessions.items():
            # journaled before anything is written: if this process dies, a rollback finds the
            # shells it left on the servers and stops what they still run before reading state
            for endpoint, shell_id in session.open_shells():
                self._shell_opened(server, endpoint, shell_id)
            session.on_open = functools.partial(self._shell_opened, server)

        def logged(server: str, message: str) -> None:
            log.info(message, server=server or None)
            progress(server, message)

        self.progress = logged

    def _shell_opened(self, server: str, endpoint: str, shell_id: str) -> None:
        self.journal.event(self.run_id, server, f"{SHELL_OPENED} {endpoint} {shell_id}")

    # -- plumbing ------------------------------------------------------------------------------

    def reader(self, server: str) -> Remote:
        """A Remote with an empty cache: every read of state is made afresh (the environment
        variables, which do not change during a run, are remembered by the session)."""
        return Remote(self.sessions[server])

    def changer(self, server: str) -> Changer:
        return Changer(self.sessions[server])

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

        from remediate.engine.journal import ACTIVE, process_alive

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
        for server in servers:
            # journaled first: a run killed right after New-Item is known to hold the lock
            self.journal.event(self.run_id, server, LOCKING)
            place = server_lock(self.reader(server), self.changer(server))
            acquire(
                place,
                self.run_id,
                operator,
                takeover=takeover,
                break_lock=break_lock,
                alive=self.holder_alive,
            )
            self.locks[server] = place.where
            self.journal.event(self.run_id, server, f"locked {place.where}")
        if organization_via is not None:
            self.journal.event(self.run_id, organization_via, ORG_LOCKING)
            place = organization_lock(self.reader(organization_via), self.changer(organization_via))
            acquire(
                place,
                self.run_id,
                operator,
                takeover=takeover,
                break_lock=break_lock,
                alive=self.holder_alive,
            )
            self.org_lock = organization_via
            self.journal.event(self.run_id, organization_via, "locked the organization")

    def unlock(self) -> None:
        if self.org_lock is not None:
            via, self.org_lock = self.org_lock, None
            try:
                ours = self.with_reconnect(
                    via, lambda: release(organization_lock(self.reader(via), self.changer(via)), self.run_id)
                )
                self.journal.event(
                    self.run_id, via, ORG_UNLOCKED + ("" if ours else " (another run's: left alone)")
                )
            except RemediateError as error:
                self.journal.event(
                    self.run_id, via, f"could not remove the organization lock: {error.message}"
                )
        for server, path in list(self.locks.items()):
            try:
                ours = self.with_reconnect(
                    server,
                    lambda: release(server_lock(self.reader(server), self.changer(server)), self.run_id),
                )
                self.journal.event(
                    self.run_id,
                    server,
                    "unlocked" if ours else "unlocked (the lock was another run's: left alone)",
                )
            except RemediateError as error:
                self.journal.event(self.run_id, server, f"could not remove the lock {path}: {error.message}")
            del self.locks[server]

    def step_status(self, item: Item, status: str, **fields: Any) -> None:
        item.status = status
        self.journal.update_step(self.run_id, item.seq, status=status, **fields)

    # -- handlers ---------------------------------------------------------------------------------

    def run_handlers(self, wanted: dict[str, list[str]], handlers: dict[str, dict[str, Any]]) -> list[str]:
        """Run each server's notified handlers once, then wait until it is healthy. Raises on failure."""
        lines = []
        for server, names in wanted.items():
            for name in names:
                kind = HANDLER_KINDS[handlers[name]["kind"]]
                settings = kind.spec.model_validate(handlers[name]["settings"])
                key = (server, name)
                if key not in self.baselines:
                    self.baselines[key] = self.with_reconnect(
                        server, functools.partial(kind.baseline, settings, self.changer(server))
                    )
                before = self.baselines[key]
                self.progress(server, f"handler {name}: {'; '.join(kind.commands(settings))}")
                self.journal.event(self.run_id, server, f"{HANDLER_STARTED} {name}")
                notes = self.with_reconnect(
                    server, functools.partial(kind.run, settings, self.changer(server), before)
                )
                self.journal.event(self.run_id, server, f"ran handler {name}")
                self.wait_healthy(server, kind, settings, name, before)
                lines.append(f"{server}: {name} ran; healthy" + "".join(f"; {note}" for note in notes))
        return lines

    def wait_healthy(self, server: str, kind: Any, settings: Any, name: str, before: dict[str, str]) -> None:
        deadline = time.monotonic() + self.health_timeout
        while True:
            try:
                problem = self.with_reconnect(
                    server, lambda: kind.health(settings, self.changer(server), before)
                )
            except RemediateError as error:  # right after a restart a read may fail: ask again
                problem = f"cannot check: {error.message}"
            if problem is None:
                self.journal.event(self.run_id, server, f"healthy after {name}")
                return
            if time.monotonic() >= deadline:
                raise RemediateError(
                    "health-check-failed",
                    f"{server}: not healthy {self.health_timeout:g}s after {name}: {problem}",
                    "check the services and app pools on the server (Get-Service, IIS Manager)",
                )
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))

    # -- undo ---------------------------------------------------------------------------------------

    def undo(self, item: Item, *, strategy: str = "exact", force: bool = False) -> StepReport:
        """Put one target back as it was before `item`; never raises."""
        resource, spec = item.resource, item.spec

        def report(status: str, message: str) -> StepReport:
            return StepReport(item.seq, item.server, item.step, item.target, status, message, item.backup)

        try:
            current = self.with_reconnect(item.server, lambda: observed_state(item, self.reader(item.server)))
            for tag in dict.fromkeys((*item.leftovers, self.run_id)):
                resource.cleanup(spec, item.target, self.changer(item.server), tag)
            if current is not None and resource.same(spec, current, item.before):
                self.step_status(item, "rolled-back", finished=now())
                return report("rolled-back", "already as before")
            if current is None:
                # Move-Item -Force deletes the target, then renames the new file: a run stopped
                # between the two leaves no target. Nothing is there to overwrite.
                wanted, how = item.before, "recreated from the snapshot (it was missing)"
            elif resource.same(spec, current, item.after) or force:
                wanted, how = item.before, "restored the snapshot"
            elif strategy == "inverse":
                wanted, how = (
                    resource.inverse(spec, item.before, item.after, current),
                    "undid only this change",
                )
            else:
                self.step_status(
                    item, "rollback-conflict", error="changed since this run wrote it", finished=now()
                )
                return report(
                    "conflict",
                    "changed since this run wrote it; not overwritten: use --strategy inverse (undo only this "
                    "change) or --force (restore the exact snapshot)",
                )
            self.step_status(item, "rolling-back")
            self.with_reconnect(
                item.server,
                lambda: resource.write(spec, item.target, wanted, self.changer(item.server), self.run_id),
            )
            check = self.with_reconnect(
                item.server, lambda: resource.state(spec, item.target, self.reader(item.server))
            )
            if not resource.same(spec, check, wanted):
                raise RemediateError(
                    "verify-failed", f"{item.target} does not hold what was restored", "restore it by hand"
                )
            self.step_status(item, "rolled-back", finished=now())
            self.progress(item.server, f"rolled back {item.target}")
            return report("rolled-back", how)
        except RemediateError as error:
            self.step_status(item, "rollback-failed", error=error.message, finished=now())
            by_hand = f"; restore by hand: copy {item.backup} over {item.target}" if item.backup else ""
            return report("rollback-failed", f"{error.message}{by_hand}")

    def undo_all(
        self, items: list[Item], *, strategy: str = "exact", force: bool = False
    ) -> list[StepReport]:
        return [self.undo(item, strategy=strategy, force=force) for item in reversed(items)]


def observed_state(item: Item, reader: Remote) -> bytes | None:
    """A target's state; None if it is missing (a file between Move-Item's two steps)."""
    try:
        return item.resource.state(item.spec, item.target, reader)  # type: ignore[no-any-return]
    except RemediateError as error:
        if error.reference == "file-missing":
            return None
        raise


def handlers_for(items: Iterable[Item], servers: Iterable[str]) -> dict[str, list[str]]:
    """Which handlers each server runs: those its own changes notified, and those organization
    changes notified (organization settings are cached by every server)."""
    wanted: dict[str, list[str]] = {server: [] for server in servers}
    for item in items:
        where = wanted if item.scope == "organization" else {item.server: wanted.setdefault(item.server, [])}
        for names in where.values():
            names.extend(name for name in item.notify if name not in names)
    return {server: names for server, names in wanted.items() if names}


# -- apply ---------------------------------------------------------------------------------------------


def _items(plan: Plan, loaded: LoadedPlaybook) -> list[Item]:
    """The plan's changes in playbook order: a server step on each server, an organization step once."""
    by_name = {step.name: step for step in loaded.playbook.steps}
    ordered: list[Item] = []
    for step in loaded.playbook.steps:
        sources = (
            [(server.server, change) for server in plan.servers for change in server.changes]
            if step.effective_scope == "server"
            else [(plan.organization_via or "", change) for change in plan.organization]
        )
        for server, change in sources:
            if change.step == step.name and change.action == "change":
                ordered.append(
                    Item(
                        seq=len(ordered) + 1,
                        server=server,
                        step=change.step,
                        kind=change.kind,
                        spec=by_name[change.step].settings,
                        target=change.target or "",
                        before=change.before_state,
                        after=change.after_state,
                        notify=list(change.notify),
                        scope=change.scope,
                        summary=change.summary,
                        diff=change.diff,
                    )
                )
    return ordered


class Apply(Runner):
    def precheck(self, items: list[Item]) -> None:
        """Before anything is written: every target still holds what the plan was made from."""
        first: dict[tuple[str, str], Item] = {}
        for item in items:
            first.setdefault((item.server, item.target.lower()), item)
        moved = []
        for item in first.values():
            current = self.with_reconnect(
                item.server,
                functools.partial(item.resource.state, item.spec, item.target, self.reader(item.server)),
            )
            if not item.resource.same(item.spec, current, item.before):
                moved.append(item)
                self.step_status(item, "moved", error="changed since the plan was made")
        if moved:
            where = "; ".join(f"{item.server}: {item.target}" for item in moved)
            raise RemediateError(
                "state-moved",
                f"changed since the plan was made, so nothing was changed: {where}",
                "run again: the new plan shows the current state",
            )

    def apply_one(self, item: Item) -> None:
        resource, spec, changer = item.resource, item.spec, self.changer(item.server)
        self.journal.update_step(self.run_id, item.seq, started=now())
        self.step_status(item, "snapshotted", before_state=item.before, before_digest=sha256(item.before))
        backup = resource.backup(spec, item.target, item.before, changer, self.run_id)
        if backup:
            item.backup = backup
            self.journal.update_step(self.run_id, item.seq, backup=backup)
        self.progress(
            item.server, f"snapshot taken: {item.target}" + (f" (backup {backup})" if backup else "")
        )
        self.step_status(item, "writing", after_state=item.after, after_digest=sha256(item.after))
        resource.write(spec, item.target, item.after, changer, self.run_id)
        self.step_status(item, "written")
        current = resource.state(spec, item.target, self.reader(item.server))
        if not resource.same(spec, current, item.after):
            raise RemediateError(
                "verify-failed",
                f"{item.server}: {item.target} does not hold what was written (read back {sha256(current)[:12]}, "
                f"wrote {sha256(item.after)[:12]})",
                "something else changed it at the same moment; the run is rolled back",
            )
        self.step_status(item, "verified", finished=now())
        self.progress(item.server, f"written and verified: {item.target}")


def batches_of(servers: list[str], serial: int) -> list[list[str]]:
    """Servers in batches of `serial` (0: all at once), in order."""
    size = serial if serial > 0 else max(1, len(servers))
    return [servers[index : index + size] for index in range(0, len(servers), size)]


@dataclass
class BatchResult:
    steps: list[StepReport]
    handlers: list[str]
    failure: RemediateError | None = None
    complete: bool = True  # when it failed: whether everything written was rolled back


class RollingApply(Apply):
    def __init__(self, *args: Any, handler_specs: dict[str, dict[str, Any]], all_servers: list[str]) -> None:
        super().__init__(*args)
        self.handler_specs = handler_specs
        self.all_servers = all_servers

    def batch(self, items: list[Item], handlers: dict[str, list[str]]) -> BatchResult:
        """Apply one batch; on any failure roll back what it wrote and run its handlers again."""
        done: list[Item] = []
        handlers_ran = False
        try:
            for item in items:
                done.append(item)
                self.apply_one(item)
            handlers_ran = True
            lines = self.run_handlers(handlers, self.handler_specs)
            applied = [
                StepReport(i.seq, i.server, i.step, i.target, "applied", "written and verified", i.backup)
                for i in items
            ]
            return BatchResult(applied, lines)
        except (RemediateError, KeyboardInterrupt) as failure:
            problem = (
                failure
                if isinstance(failure, RemediateError)
                else RemediateError("interrupted", "interrupted by the operator")
            )
            result = self.roll_back_batch(items, done, handlers, handlers_ran, problem)
            if isinstance(failure, KeyboardInterrupt):
                raise
            return result

    def roll_back_batch(
        self,
        items: list[Item],
        done: list[Item],
        handlers: dict[str, list[str]],
        handlers_ran: bool,
        problem: RemediateError,
    ) -> BatchResult:
        self.journal.event(self.run_id, None, f"failed: {problem.reference}: {problem.message}")
        if problem.reference in CONNECTION_ERRORS:
            for session in self.sessions.values():
                session.reset()  # a pool that lost its connection is not trusted again
        written = [item for item in done if item.status in MAY_HAVE_WRITTEN]
        # A server's file is ours for the batch (we hold its lock): the snapshot wins. An
        # organization object is shared with runs on other servers: if its value moved since
        # our write, another run changed it, and undoing ours must not revert theirs.
        steps = [self.undo(item, force=item.scope != "organization") for item in reversed(written)]
        steps += [
            StepReport(i.seq, i.server, i.step, i.target, "not-applied", "not changed")
            for i in items
            if i not in written
        ]
        lines: list[str] = []
        if written or handlers_ran:
            batch_servers = set(handlers) | {item.server for item in items}
            touched = (
                {s: n for s, n in handlers_for(written, self.all_servers).items() if s in batch_servers}
                if written
                else handlers
            )
            try:
                lines = self.run_handlers(touched, self.handler_specs)
            except RemediateError as handler_error:
                lines = [f"handlers after rollback failed: {handler_error.message}"]
        complete = all(step.status == "rolled-back" for step in steps if step.status != "not-applied")
        return BatchResult(steps, lines, problem, complete)


def apply_plan(
    plan: Plan,
    loaded: LoadedPlaybook,
    sessions: dict[str, Session],
    journal: Journal,
    *,
    operator: str,
    change_id: str | None,
    hosts: dict[str, Any],
    connection: dict[str, Any],
    progress: Progress,
    health_timeout: float = 120.0,
    break_lock: str | None = None,
    serial: int = 1,
    max_failures: int = 0,
) -> Outcome:
    """Apply `plan` in batches of `serial` servers. A failing batch is rolled back; more than
    `max_failures` failed batches stop the run, leaving the remaining servers untouched."""
    items = _items(plan, loaded)
    handler_specs = {
        h.name: {"kind": h.kind, "settings": h.settings.model_dump(exclude_unset=True)}
        for h in loaded.playbook.handlers
    }
    all_servers = [server.server for server in plan.servers]
    run_id = journal.start_run(
        kind="apply",
        playbook=loaded.name,
        source=loaded.source,
        digest=loaded.digest,
        operator=operator,
        change_id=change_id,
        hosts={**hosts, "handlers": handler_specs},
        connection=connection,
    )
    locked = [server for server in plan.servers if server.locked_by]
    if not items and locked:
        error = RemediateError(
            "server-locked",
            "nothing to change, but a run is in progress: "
            + "; ".join(f"{server.server} is locked by {server.locked_by}" for server in locked),
            "the state may still change (that run may roll back): run again when it has finished",
        )
        journal.finish_run(run_id, "refused", {"failure": error.message})
        return Outcome(run_id, "apply", "refused", failure=error)
    if not items:
        journal.finish_run(run_id, "no-change", {"message": "already in the desired state"})
        return Outcome(run_id, "apply", "no-change")
    record(journal, run_id, items)
    runner = RollingApply(
        journal,
        sessions,
        run_id,
        progress,
        health_timeout,
        handler_specs=handler_specs,
        all_servers=all_servers,
    )
    wanted = handlers_for(items, all_servers)
    involved = list(dict.fromkeys([item.server for item in items] + list(wanted)))
    outcome = Outcome(run_id, "apply", "running", servers={s: "unchanged" for s in all_servers})
    try:
        organization = plan.organization_via if any(i.scope == "organization" for i in items) else None
        runner.lock(involved, operator, frozenset(), break_lock, organization)
    except RemediateError as error:
        runner.unlock()
        journal.finish_run(run_id, "refused", {"failure": error.message})
        outcome.status, outcome.failure = "refused", error
        return outcome
    failures, applied_batches, complete = 0, 0, True
    try:
        runner.precheck(items)
        batches = [b for b in batches_of(all_servers, serial) if any(s in involved for s in b)]
        for number, batch in enumerate(batches, start=1):
            batch_items = [i for i in items if (i.server in batch if i.scope == "server" else number == 1)]
            batch_handlers = {server: names for server, names in wanted.items() if server in batch}
            progress("", f"batch {number}/{len(batches)}: {', '.join(batch)}")
            result = runner.batch(batch_items, batch_handlers)
            outcome.steps += result.steps
            outcome.handlers += result.handlers
            touched = set(batch_handlers) | {item.server for item in batch_items}
            if result.failure is None:
                applied_batches += 1
                outcome.servers.update({s: "applied" for s in touched})
                continue
            failures += 1
            complete = complete and result.complete
            outcome.failure = outcome.failure or result.failure
            outcome.servers.update(
                {s: "rolled back" if result.complete else "rollback incomplete" for s in touched}
            )
            if failures > max_failures:
                for later in batches[number:]:
                    outcome.servers.update({s: "untouched" for s in later if s in involved})
                outcome.steps += [
                    StepReport(
                        i.seq, i.server, i.step, i.target, "not-applied", "not changed: the run stopped"
                    )
                    for i in items
                    if i.scope == "server" and any(i.server in later for later in batches[number:])
                ]
                break
    except RemediateError as error:  # the plan moved before anything was written
        outcome.failure = error
        outcome.steps = [
            StepReport(i.seq, i.server, i.step, i.target, "not-applied", "not changed") for i in items
        ]
        outcome.status = "refused"
    except KeyboardInterrupt:
        journal.finish_run(run_id, "interrupted", outcome.to_dict())
        raise
    finally:
        runner.unlock()
    if outcome.status != "refused":
        if not failures:
            outcome.status = "succeeded"
        elif not complete:
            outcome.status = "rollback-incomplete"
        else:
            outcome.status = "partial" if applied_batches else "rolled-back"
    journal.finish_run(run_id, outcome.status, outcome.to_dict())
    log.info("run finished", status=outcome.status, servers=outcome.servers)
    return outcome
