"""Rolling back a run, now or weeks later: what the journal says it wrote, and what it left.

A rollback restores each target the run may have written (every step from "snapshot durable"
to "confirmed restored") to its exact snapshot, then runs the handlers. A run that died, or a
rollback of it that died, also left things behind, which the journal records and a rollback
takes over: the runspace pools it opened on the servers (deleted first, so that nothing of it
still runs when the state is read: `settle`), its locks, its temporary files, and handlers it
started and never saw healthy.
"""

from __future__ import annotations

from remediate.engine.execution import DEFAULT_FORKS, Execution, each_in_turn
from remediate.engine.journal import RECORDED, Journal, RunRow
from remediate.engine.recording import Recorder, RunFacts
from remediate.engine.restore import restore_all
from remediate.engine.steps import (
    HANDLER_STARTED,
    LOCKING,
    ORG_LOCKING,
    ORG_UNLOCKED,
    SHELL_OPENED,
    Item,
    Outcome,
    Progress,
    StepReport,
    handlers_for,
    observed_state,
    record,
)
from remediate.model.record import PlaybookRecord
from remediate.model.status import ACTIVE, MAY_HAVE_WRITTEN, Preview, RunStatus, StepStatus
from remediate.support.errors import RemediateError
from remediate.winrm.reader import ServerReader
from remediate.winrm.session import Session
from remediate.winrm.writer import sha256


def rollback_refusal(journal: Journal, run: RunRow) -> RemediateError | None:
    if run.kind == "rollback":
        return RemediateError(
            "rollback-of-rollback",
            f"run {run.id} is itself a rollback (of {run.rolls_back}); it cannot be rolled back",
            "to make the change again, apply the playbook again",
        )
    if run.rolled_back_by:
        return RemediateError(
            "already-rolled-back",
            f"run {run.id} was already rolled back by run {run.rolled_back_by}",
            "nothing to do",
        )
    if run.status in ACTIVE:
        return RemediateError(
            "run-in-progress",
            f"run {run.id} is still in progress (process {run.pid})",
            "wait for it to finish",
        )
    if run.status in (RunStatus.ROLLED_BACK, RunStatus.NO_CHANGE, RunStatus.REFUSED):
        reason = {
            RunStatus.ROLLED_BACK: "rolled itself back when it failed",
            RunStatus.NO_CHANGE: "changed nothing",
            RunStatus.REFUSED: "changed nothing",
        }
        return RemediateError("nothing-to-roll-back", f"run {run.id} {reason[run.status]}", "nothing to do")
    live = [r.id for r in journal.rollbacks_of(run.id) if r.status in ACTIVE]
    if live:
        return RemediateError(
            "run-in-progress",
            f"run {run.id} is being rolled back by run {live[0]}",
            "wait for that rollback to finish",
        )
    if not [step for step in journal.steps(run.id) if step.status in MAY_HAVE_WRITTEN]:
        if leftover_locks(journal, run) or leftover_handlers(journal, run):
            return None  # the rollback releases the locks it left and finishes its handlers
        return RemediateError("nothing-to-roll-back", f"run {run.id} wrote nothing", "nothing to do")
    return None


def settle(journal: Journal, run: RunRow, sessions: dict[str, Session]) -> list[str]:
    """Before a rollback reads anything: make sure nothing of a dead run (or of its dead
    rollbacks) still runs on a server. A client that dies leaves its shells on the servers, and
    a command of theirs (Set-PartnerApplication, a write) may land seconds later, after the
    rollback read the state and decided. Each shell the run journaled is deleted, which stops
    what it runs; then the state is settled. Returns what was done, for the report."""
    runs = lineage(journal, run) if run.status == RunStatus.INTERRUPTED else dead_rollbacks(journal, run)
    done = []
    for each in runs:
        for _, server, message in journal.events(each):
            if server is None or not message.startswith(SHELL_OPENED + " ") or server not in sessions:
                continue
            endpoint, shell_id = message[len(SHELL_OPENED) + 1 :].split(" ", 1)
            if sessions[server].delete_shell(endpoint, shell_id):
                done.append(f"{server}: stopped shell {shell_id} left by run {each}")
    return done


def leftover_locks(journal: Journal, run: RunRow) -> list[str]:
    """Servers where `run`, or a rollback of it that died, may still hold remediate's lock."""
    return list(
        dict.fromkeys(server for each in lineage(journal, run) for server in unreleased_locks(journal, each))
    )


def leftover_organization_lock(journal: Journal, run: RunRow) -> str | None:
    """The server through which `run`, or a rollback of it that died, may still hold the
    organization lock."""
    return next(
        filter(None, (unreleased_organization_lock(journal, each) for each in lineage(journal, run))), None
    )


def leftover_handlers(journal: Journal, run: RunRow) -> dict[str, list[str]]:
    """Handlers that `run`, or a rollback of it that died, started and never saw healthy after:
    a server may be left with IIS stopped."""
    started: dict[tuple[str, str], None] = {}
    for each in lineage(journal, run):
        for _, server, message in journal.events(each):
            if server is None:
                continue
            if message.startswith(HANDLER_STARTED + " "):
                started[(server, message[len(HANDLER_STARTED) + 1 :])] = None
            elif message.startswith("healthy after "):
                started.pop((server, message[len("healthy after ") :]), None)
    wanted: dict[str, list[str]] = {}
    for server, name in started:
        wanted.setdefault(server, []).append(name)
    return wanted


def unreleased_locks(journal: Journal, run_id: str) -> list[str]:
    """Servers where run `run_id` may still hold remediate's lock: it was taking it, and never released it."""
    held: dict[str, None] = {}
    for _, server, message in journal.events(run_id):
        if server is not None and message == LOCKING:
            held[server] = None
        elif server is not None and (message == "unlocked" or message.startswith("unlocked (")):
            held.pop(server, None)
    return list(held)


def unreleased_organization_lock(journal: Journal, run_id: str) -> str | None:
    """The server through which run `run_id` may still hold the organization lock."""
    via = None
    for _, server, message in journal.events(run_id):
        if message == ORG_LOCKING:
            via = server
        elif message.startswith(ORG_UNLOCKED):
            via = None
    return via


def dead_rollbacks(journal: Journal, run: RunRow) -> list[str]:
    """Rollbacks of `run` that were stopped before they finished (their process is gone)."""
    return [
        rollback.id for rollback in journal.rollbacks_of(run.id) if rollback.status == RunStatus.INTERRUPTED
    ]


def lineage(journal: Journal, run: RunRow) -> list[str]:
    """`run` and its rollbacks that died: the runs whose leftovers (locks, temporary files,
    unfinished handlers) a rollback of `run` takes over and cleans up."""
    return [run.id, *dead_rollbacks(journal, run)]


def rollback_items(journal: Journal, run: RunRow) -> list[Item]:
    leftovers = tuple(lineage(journal, run))
    return [
        Item.of_row(step, leftovers)
        for step in journal.steps(run.id)
        if step.status in MAY_HAVE_WRITTEN and step.before_state is not None
    ]


def preview_rollback(
    journal: Journal,
    run: RunRow,
    sessions: dict[str, Session],
    *,
    strategy: str = "exact",
    force: bool = False,
    forks: int = DEFAULT_FORKS,
) -> list[StepReport]:
    """What a rollback (with `strategy`, `force`) would do, step by step, without writing
    anything; the servers read at once (up to `forks`)."""
    return each_in_turn(
        forks,
        list(reversed(rollback_items(journal, run))),
        lambda item: _preview(item, ServerReader(sessions[item.server]), strategy, force),
        lambda *_: None,
    )


def _preview(item: Item, reader: ServerReader, strategy: str, force: bool) -> StepReport:
    """The usual answers first, compared where the server can (`Resource.holds`: a file's
    SHA-256), so a file's bytes travel only when the target holds neither state (other kinds'
    reads are the reader's, made once)."""
    resource, spec = item.resource, item.spec
    try:
        if not resource.same(spec, item.after, item.before) and resource.holds(
            spec, item.target, item.after, reader
        ):
            return StepReport.of(item, Preview.RESTORE, "would restore the snapshot")
        if resource.holds(spec, item.target, item.before, reader):
            return StepReport.of(item, Preview.NOTHING, "already as before")
        current = observed_state(item, reader)
    except RemediateError as error:
        return StepReport.of(item, Preview.ERROR, error.message)
    if current is None:
        status, message = Preview.RESTORE, "missing: would recreate it from the snapshot"
    elif force:
        status, message = (
            Preview.RESTORE,
            "changed since this run wrote it: would restore the snapshot (--force)",
        )
    elif strategy == "inverse":
        status, message = Preview.RESTORE, "changed since this run wrote it: would undo only this change"
    else:
        status, message = (
            Preview.CONFLICT,
            "changed since this run wrote it: needs --strategy inverse or --force",
        )
    return StepReport.of(item, status, message)


def rollback_run(
    journal: Journal,
    run: RunRow,
    sessions: dict[str, Session],
    *,
    operator: str,
    progress: Progress,
    strategy: str = "exact",
    force: bool = False,
    health_timeout: float = 120.0,
    break_lock: str | None = None,
    settled: bool = False,
    forks: int = DEFAULT_FORKS,
) -> Outcome:
    """Roll `run` back. `settled`: the caller already stopped what a dead run left running
    (`settle`, before it showed a preview); otherwise it is done here, before anything is read."""
    refusal = rollback_refusal(journal, run)
    if refusal is not None:
        raise refusal
    items = rollback_items(journal, run)
    rollback_id = journal.start_run(
        kind="rollback",
        playbook=run.playbook,
        source=run.playbook_source,
        digest=run.playbook_digest,
        operator=operator,
        change_id=run.change_id,
        hosts=run.hosts,
        connection=run.connection,
        handlers=run.handlers,
        rolls_back=run.id,
    )
    for item in items:
        item.summary, item.diff = f"roll back run {run.id}", None
    record(journal, rollback_id, items)
    for item in items:
        journal.update_step(
            rollback_id,
            item.seq,
            before_state=item.before,
            after_state=item.after,
            before_digest=sha256(item.before),
            after_digest=sha256(item.after),
            backup=item.backup,
        )
    if not settled:
        settle(journal, run, sessions)
    execution = Execution(journal, sessions, rollback_id, progress, health_timeout, forks)
    outcome = Outcome(rollback_id, "rollback", RunStatus.RUNNING)
    # the servers it changes, and those where the run (or a rollback of it that died) left its
    # lock: taken over, and released at the end
    servers = list(dict.fromkeys([item.server for item in items] + leftover_locks(journal, run)))
    takeover = frozenset(lineage(journal, run))
    try:
        organization = next(
            (i.server for i in items if i.scope == "organization"), None
        ) or leftover_organization_lock(journal, run)
        execution.lock(servers, operator, takeover, break_lock, organization)
    except RemediateError as error:
        execution.unlock()
        journal.finish_run(rollback_id, RunStatus.REFUSED, {"failure": error.message})
        outcome.status, outcome.failure = RunStatus.REFUSED, error
        return outcome
    recorder = Recorder(
        execution,
        RunFacts(
            kind="rollback",
            playbook=PlaybookRecord(
                name=run.playbook, source=run.playbook_source, digest=run.playbook_digest
            ),
            operator=operator,
            change_id=run.change_id,
            hosts=run.hosts,
            connection=run.connection,
            handlers=run.handlers,
            servers=list(run.hosts.get("servers", {})) or servers,
            organization_via=next((i.server for i in items if i.scope == "organization"), None),
            rolls_back=run.id,
        ),
    )
    try:
        try:
            execution.each(
                list(dict.fromkeys(item.server for item in items)),
                lambda server: recorder.begin(server, [item for item in items if item.server == server]),
            )
        except RemediateError as error:  # nothing was restored yet
            journal.finish_run(rollback_id, RunStatus.REFUSED, {"failure": error.message})
            outcome.status, outcome.failure = RunStatus.REFUSED, error
            for server in recorder.records:
                recorder.finish(server, str(RunStatus.REFUSED), [])
            return outcome
        outcome.steps = restore_all(execution, items, strategy=strategy, force=force)
        changed = [
            item
            for item, report in zip(reversed(items), outcome.steps, strict=True)
            if report.message != "already as before"
        ]
        all_servers = [s for s in run.hosts.get("servers", {}) if s in sessions] or servers
        wanted = handlers_for(changed, all_servers)
        for server, names in leftover_handlers(journal, run).items():
            wanted.setdefault(server, []).extend(n for n in names if n not in wanted[server])
        try:
            outcome.handlers = execution.run_handlers(wanted, run.handlers)
        except RemediateError as error:
            outcome.failure = error
            outcome.handlers = [f"handlers failed: {error.message}"]
        complete = (
            all(step.status == StepStatus.ROLLED_BACK for step in outcome.steps) and outcome.failure is None
        )
        outcome.status = RunStatus.SUCCEEDED if complete else RunStatus.ROLLBACK_INCOMPLETE

        def finish(server: str) -> None:
            mine = [item for item in items if item.server == server]
            whole = all(item.status == StepStatus.ROLLED_BACK for item in mine) and outcome.failure is None
            recorder.finish(server, "succeeded" if whole else "rollback-incomplete", mine)

        execution.each(list(recorder.records), finish)
        if outcome.status == RunStatus.SUCCEEDED:
            recorder.mark_rolled_back(run.id, recorded_on(journal, run, sessions))
    finally:
        execution.unlock()
    journal.finish_run(rollback_id, outcome.status, outcome.to_dict())
    if outcome.status == RunStatus.SUCCEEDED:
        journal.mark_rolled_back(run.id, rollback_id)
    return outcome


def recorded_on(journal: Journal, run: RunRow, sessions: dict[str, Session]) -> list[str]:
    """The servers (among `sessions`) that hold `run`'s record."""
    found = {server for _, server, message in journal.events(run.id) if message == RECORDED and server}
    return [server for server in sessions if server in found]
