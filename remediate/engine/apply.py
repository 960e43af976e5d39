"""Applying a plan: snapshot before every write, verify after, roll the batch back on failure.

For each planned change, in order: (1) before the first write, every target is read again
and compared with the plan (if one moved, nothing is touched); (2) its exact state is
committed to the journal, and kept with the run's record on the server (`engine.recording`:
before a batch writes on a server, its record and snapshots are there, checked); (3)
the new state is written (files through a checked temporary file moved over the target);
(4) it is read back and compared. Handlers run once per server, after the batch's steps;
then a health check. Any failure rolls back every change of the batch in reverse order,
runs the handlers again, and reports each step; a restore that fails does not stop the others.
Servers go in batches of `serial`; more than `max_failures` failed batches stop the run.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from remediate.engine.execution import DEFAULT_FORKS, Execution
from remediate.engine.journal import Journal
from remediate.engine.recording import Recorder, RunFacts
from remediate.engine.restore import restore
from remediate.engine.steps import Item, Outcome, Progress, StepReport, handlers_for, items_of, record
from remediate.model.plan import Plan
from remediate.model.record import PlaybookRecord
from remediate.model.status import MAY_HAVE_WRITTEN, RunStatus, ServerOutcome, StepStatus
from remediate.support.clock import now
from remediate.support.errors import RemediateError
from remediate.support.logs import get_logger
from remediate.winrm.session import Session
from remediate.winrm.settings import CONNECTION_ERRORS
from remediate.winrm.writer import sha256

log = get_logger(__name__)


def batches_of(servers: list[str], serial: int) -> list[list[str]]:
    """Servers in batches of `serial` (0: all at once), in order."""
    size = serial if serial > 0 else max(1, len(servers))
    return [servers[index : index + size] for index in range(0, len(servers), size)]


def waves(items: list[Item]) -> list[list[Item]]:
    """The items (in playbook order) as waves: one step's items, one per server, applied at once."""
    grouped: list[list[Item]] = []
    for item in items:
        if grouped and grouped[-1][0].step == item.step and all(i.server != item.server for i in grouped[-1]):
            grouped[-1].append(item)
        else:
            grouped.append([item])
    return grouped


@dataclass
class BatchResult:
    steps: list[StepReport]
    handlers: list[str]
    failure: RemediateError | None = None
    complete: bool = True  # when it failed: whether everything written was rolled back


class Applying(Execution):
    """An apply run: the precheck, each step's snapshot-write-verify, batches and their undo."""

    def __init__(
        self, *args: Any, handler_specs: dict[str, dict[str, Any]], all_servers: list[str], facts: RunFacts
    ) -> None:
        super().__init__(*args)
        self.handler_specs = handler_specs
        self.all_servers = all_servers
        self.recorder = Recorder(self, facts)
        self.applied_batches = 0
        # a batch stopped by Ctrl-C, and rolled back before the interrupt goes on: what is true
        self.interrupted: BatchResult | None = None

    def precheck(self, items: list[Item]) -> None:
        """Before anything is written: every target still holds what the plan was made from."""
        first: dict[tuple[str, str], Item] = {}
        for item in items:
            first.setdefault((item.server, item.target.lower()), item)
        by_server: dict[str, list[Item]] = {}
        for item in first.values():
            by_server.setdefault(item.server, []).append(item)

        def check(server: str) -> list[Item]:
            moved = []
            for item in by_server[server]:
                held = self.with_reconnect(
                    server,
                    functools.partial(
                        item.resource.holds, item.spec, item.target, item.before, self.reader(server)
                    ),
                )
                if not held:
                    moved.append(item)
                    self.step_status(item, StepStatus.MOVED, error="changed since the plan was made")
            return moved

        moved = [item for found in self.each(list(by_server), check) for item in found]
        if moved:
            where = "; ".join(f"{item.server}: {item.target}" for item in moved)
            raise RemediateError(
                "state-moved",
                f"changed since the plan was made, so nothing was changed: {where}",
                "run again: the new plan shows the current state",
            )

    def apply_one(self, item: Item) -> None:
        resource, spec, writer = item.resource, item.spec, self.writer(item.server)
        self.journal.update_step(self.run_id, item.seq, started=now())
        self.step_status(
            item, StepStatus.SNAPSHOTTED, before_state=item.before, before_digest=sha256(item.before)
        )
        self.progress(item.server, f"snapshot taken: {item.target} (kept in {item.backup})")
        self.step_status(item, StepStatus.WRITING, after_state=item.after, after_digest=sha256(item.after))
        held = resource.write(spec, item.target, item.after, writer, self.run_id)
        self.step_status(item, StepStatus.WRITTEN)
        if held is None:
            held = resource.holds(spec, item.target, item.after, self.reader(item.server))
        if not held:
            raise RemediateError(
                "verify-failed",
                f"{item.server}: {item.target} does not hold what was written ({sha256(item.after)[:12]})",
                "something else changed it at the same moment; the run is rolled back",
            )
        self.step_status(item, StepStatus.VERIFIED, finished=now())
        self.progress(item.server, f"written and verified: {item.target}")

    def batch(self, items: list[Item], handlers: dict[str, list[str]]) -> BatchResult:
        """Apply one batch; on any failure roll back what it wrote and run its handlers again."""
        done: list[Item] = []  # started, in order (appended by each server's thread)
        handlers_ran = False

        def start(item: Item) -> None:
            done.append(item)  # before anything is written: a rollback considers it
            self.apply_one(item)

        try:
            servers = list(dict.fromkeys([item.server for item in items] + list(handlers)))
            self.each(servers, lambda s: self.recorder.begin(s, [item for item in items if item.server == s]))
            for wave in waves(items):  # a step on every server of the batch at once, step after step
                self.each(wave, start)
            handlers_ran = True
            lines = self.run_handlers(handlers, self.handler_specs)
            applied = [StepReport.of(i, StepStatus.APPLIED, "written and verified") for i in items]
            return BatchResult(applied, lines)
        except (RemediateError, KeyboardInterrupt) as failure:
            problem = (
                failure
                if isinstance(failure, RemediateError)
                else RemediateError("interrupted", "interrupted by the operator")
            )
            result = self.roll_back_batch(items, done, handlers, handlers_ran, problem)
            if isinstance(failure, KeyboardInterrupt):
                self.interrupted = result
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
        steps = [restore(self, item, force=item.scope != "organization") for item in reversed(written)]
        steps += [StepReport.of(i, StepStatus.NOT_APPLIED, "not changed") for i in items if i not in written]
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
        complete = all(
            step.status == StepStatus.ROLLED_BACK for step in steps if step.status != StepStatus.NOT_APPLIED
        )
        return BatchResult(steps, lines, problem, complete)

    def finished(self, servers: set[str], status: ServerOutcome, items: list[Item], outcome: Outcome) -> None:
        """A batch ended on `servers`: the outcome, and the records there brought up to date."""
        outcome.servers.update({s: status for s in servers})
        self.each(
            sorted(servers),
            lambda server: self.recorder.finish(
                server, str(status), [i for i in items if i.server == server]
            ),
        )

    def batches(
        self, items: list[Item], serial: int, max_failures: int, outcome: Outcome
    ) -> tuple[int, int, bool]:
        """Every batch in turn; (failed batches, applied batches, all failures fully undone)."""
        wanted = handlers_for(items, self.all_servers)
        involved = list(dict.fromkeys([item.server for item in items] + list(wanted)))
        batches = [b for b in batches_of(self.all_servers, serial) if any(s in involved for s in b)]
        failures, applied, complete = 0, 0, True
        for number, batch in enumerate(batches, start=1):
            batch_items = [i for i in items if (i.server in batch if i.scope == "server" else number == 1)]
            batch_handlers = {server: names for server, names in wanted.items() if server in batch}
            self.progress("", f"batch {number}/{len(batches)}: {', '.join(batch)}")
            result = self.batch(batch_items, batch_handlers)
            outcome.steps += result.steps
            outcome.handlers += result.handlers
            touched = set(batch_handlers) | {item.server for item in batch_items}
            if result.failure is None:
                applied += 1
                self.applied_batches = applied
                self.finished(touched, ServerOutcome.APPLIED, batch_items, outcome)
                continue
            failures += 1
            complete = complete and result.complete
            outcome.failure = outcome.failure or result.failure
            undone = ServerOutcome.ROLLED_BACK if result.complete else ServerOutcome.ROLLBACK_INCOMPLETE
            self.finished(touched, undone, batch_items, outcome)
            if failures > max_failures:
                later = [s for b in batches[number:] for s in b]
                outcome.servers.update({s: ServerOutcome.UNTOUCHED for s in later if s in involved})
                outcome.steps += [
                    StepReport.of(i, StepStatus.NOT_APPLIED, "not changed: the run stopped")
                    for i in items
                    if i.scope == "server" and i.server in later
                ]
                break
        return failures, applied, complete


def _refusal(plan: Plan, items: list[Item]) -> tuple[RunStatus, RemediateError | None] | None:
    """Why the run ends before it starts: nothing to change (a no-change run), or nothing to
    change while a server is locked by another run, which may still change it."""
    if items:
        return None
    locked = [server for server in plan.servers if server.locked_by]
    if not locked:
        return RunStatus.NO_CHANGE, None
    return RunStatus.REFUSED, RemediateError(
        "server-locked",
        "nothing to change, but a run is in progress: "
        + "; ".join(f"{server.server} is locked by {server.locked_by}" for server in locked),
        "the state may still change (that run may roll back): run again when it has finished",
    )


def apply_plan(
    plan: Plan,
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
    forks: int = DEFAULT_FORKS,
) -> Outcome:
    """Apply `plan` (it carries all it needs) in batches of `serial` servers. A failing batch is
    rolled back; more than `max_failures` failed batches stop the run, leaving the remaining
    servers untouched."""
    items = items_of(plan)
    handler_specs = {h.name: h.to_dict() for h in plan.handlers}
    all_servers = [server.server for server in plan.servers]
    facts = RunFacts(
        kind="apply",
        playbook=PlaybookRecord(name=plan.playbook, source=plan.source, digest=plan.digest, text=plan.text),
        operator=operator,
        change_id=change_id,
        hosts=hosts,
        connection=connection,
        handlers=handler_specs,
        servers=all_servers,
        organization_via=plan.organization_via,
    )
    run_id = journal.start_run(
        kind="apply",
        playbook=plan.playbook,
        source=plan.source,
        digest=plan.digest,
        operator=operator,
        change_id=change_id,
        hosts=hosts,
        connection=connection,
        handlers=handler_specs,
    )
    refused = _refusal(plan, items)
    if refused is not None:
        status, error = refused
        journal.finish_run(
            run_id,
            status,
            {"failure": error.message} if error else {"message": "already in the desired state"},
        )
        return Outcome(run_id, "apply", status, failure=error)
    record(journal, run_id, items)
    runner = Applying(
        journal,
        sessions,
        run_id,
        progress,
        health_timeout,
        forks,
        handler_specs=handler_specs,
        all_servers=all_servers,
        facts=facts,
    )
    wanted = handlers_for(items, all_servers)
    involved = list(dict.fromkeys([item.server for item in items] + list(wanted)))
    outcome = Outcome(
        run_id,
        "apply",
        RunStatus.RUNNING,
        servers={s: ServerOutcome.UNCHANGED for s in all_servers},
        preflight=[
            {
                "server": s.server,
                "build": s.build,
                "checks": [{"check": c.label, "problem": c.problem, "applies": c.applies} for c in s.checks],
            }
            for s in plan.servers
        ],
    )
    try:
        organization = plan.organization_via if any(i.scope == "organization" for i in items) else None
        runner.lock(involved, operator, frozenset(), break_lock, organization)
    except RemediateError as error:
        runner.unlock()
        journal.finish_run(run_id, RunStatus.REFUSED, {"failure": error.message})
        outcome.status, outcome.failure = RunStatus.REFUSED, error
        return outcome
    try:
        runner.precheck(items)
        failures, applied, complete = runner.batches(items, serial, max_failures, outcome)
        if not failures:
            outcome.status = RunStatus.SUCCEEDED
        elif not complete:
            outcome.status = RunStatus.ROLLBACK_INCOMPLETE
        else:
            outcome.status = RunStatus.PARTIAL if applied else RunStatus.ROLLED_BACK
    except RemediateError as error:  # the plan moved before anything was written
        outcome.failure = error
        outcome.steps = [StepReport.of(i, StepStatus.NOT_APPLIED, "not changed") for i in items]
        outcome.status = RunStatus.REFUSED
    except KeyboardInterrupt:
        # Ctrl-C: the batch it stopped was rolled back first; the run's status says what is true
        stopped = runner.interrupted
        status = RunStatus.INTERRUPTED
        if stopped is not None:
            outcome.steps += stopped.steps
            outcome.handlers += stopped.handlers
            outcome.failure = stopped.failure
            if not stopped.complete:
                status = RunStatus.ROLLBACK_INCOMPLETE
            else:
                status = RunStatus.PARTIAL if runner.applied_batches else RunStatus.ROLLED_BACK
        outcome.status = status
        runner.unlock()
        journal.finish_run(run_id, status, outcome.to_dict())
        raise
    finally:
        runner.unlock()
    journal.finish_run(run_id, outcome.status, outcome.to_dict())
    log.info("run finished", status=str(outcome.status), servers=outcome.servers)
    return outcome
