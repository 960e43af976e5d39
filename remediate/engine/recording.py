"""Keeping a run's record on each server it touches, as it goes.

Before the first write on a server (`begin`): remediate's folder there is made owner-only (or
checked), the exact snapshot of each step through that server is kept in it (a file target is
copied on the server; a property value is written), all of them checked with one
Get-FileHash, and the record written with every step `snapshotted`: from there on, as in the
journal, the target may have been written. When the server's batch ends (`finish`), the
record gets each step's outcome. A rollback records itself the same way (its snapshots are
the run's it undoes), and marks the undone run's records (`mark_rolled_back`).

A record that cannot be brought up to date at the end stays as it was: "running", every step
"snapshotted", which over-states what may have been written, never under-states it.
"""

from __future__ import annotations

import functools
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from remediate.engine.journal import RECORDED
from remediate.model.record import FORMAT, PlaybookRecord, RecordStep, RunRecord, own_hosts, parse
from remediate.support.clock import now
from remediate.support.errors import RemediateError
from remediate.winrm.records import RecordStore, sha256

if TYPE_CHECKING:
    from remediate.engine.execution import Execution
    from remediate.engine.steps import Item


@dataclass(frozen=True)
class RunFacts:
    """What every record of a run says about the run as a whole."""

    kind: str  # apply | rollback
    playbook: PlaybookRecord
    operator: str
    change_id: str | None
    hosts: dict[str, Any]
    connection: dict[str, Any]
    handlers: dict[str, Any]
    servers: list[str]
    organization_via: str | None
    rolls_back: str | None = None


class Recorder:
    """The records of one run (an apply, or a rollback) on the servers it touches."""

    def __init__(self, execution: Execution, facts: RunFacts) -> None:
        self.execution = execution
        self.facts = facts
        self.records: dict[str, RunRecord] = {}
        self.started = now()

    @property
    def run_id(self) -> str:
        return self.execution.run_id

    def store(self, server: str) -> RecordStore:
        return RecordStore(self.execution.reader(server), self.execution.writer(server))

    def begin(self, server: str, items: list[Item]) -> None:
        """Before the first write on `server`: its snapshots and record, durable and checked."""
        if server in self.records:
            return
        store = self.store(server)

        def keep() -> list[RecordStep]:
            store.ensure_private()
            steps = []
            if self.facts.kind == "apply":
                # the target holds the first step's "before"; a later step on the same target
                # starts from an earlier step's result: its snapshot is written, not copied
                states: list[tuple[int, str, bytes, str | None]] = []
                copied: set[str] = set()
                for item in items:
                    source = item.resource.copy_source(item.spec, item.target)
                    if source is not None and source.lower() in copied:
                        source = None
                    elif source is not None:
                        copied.add(source.lower())
                    states += [
                        (item.seq, "before", item.before, source),
                        (item.seq, "after", item.after, None),
                    ]
                paths = iter(store.keep_all(self.run_id, states))  # made and checked in one request
                for item in items:
                    before, after = next(paths), next(paths)
                    item.backup = before
                    self.execution.journal.update_step(self.run_id, item.seq, backup=before)
                    steps.append(_step(item, "snapshotted", before, after, self.run_id))
                return steps
            store.start_run(self.run_id)
            for item in items:  # a rollback's snapshots are those of the run it undoes
                # (a run from before records kept its backup beside the target: not named here)
                undone = self.facts.rolls_back or self.run_id
                ours = item.backup is not None and store.owns(item.backup)
                kept = store.snapshot_path(undone, item.seq, "after") if ours else None
                steps.append(
                    _step(item, "snapshotted", kept, item.backup if ours else None, undone, undoing=True)
                )
            return steps

        steps = self.execution.with_reconnect(server, keep)
        record = self._record(server, steps)
        self.records[server] = record  # from here on `finish` writes it, also if this write fails
        self.execution.with_reconnect(server, lambda: store.write_record(self.run_id, record.to_bytes()))
        self.execution.journal.event(self.run_id, server, RECORDED)

    def finish(self, server: str, status: str, items: Iterable[Item]) -> None:
        """The server's part of the run ended: each step's outcome, and the run's here."""
        record = self.records.get(server)
        if record is None:
            return
        statuses = {item.seq: str(item.status) for item in items}
        steps = [s.model_copy(update={"status": statuses.get(s.seq, s.status)}) for s in record.steps]
        done = record.model_copy(update={"steps": steps, "status": status, "finished": now()})
        try:
            self.execution.with_reconnect(
                server, lambda: self.store(server).write_record(self.run_id, done.to_bytes())
            )
            self.records[server] = done
        except RemediateError as error:
            self.execution.journal.event(self.run_id, server, f"could not update the record: {error.message}")
            self.execution.progress(server, f"could not update the run's record here: {error.message}")

    def mark_rolled_back(self, undone: str, servers: Iterable[str]) -> None:
        """The undone run's records say who rolled it back (where they exist), on the servers at once."""

        def mark(server: str) -> None:
            store = self.store(server)
            try:
                self.execution.with_reconnect(
                    server, functools.partial(_mark, store, server, undone, self.run_id)
                )
            except RemediateError as error:
                self.execution.journal.event(
                    self.run_id, server, f"could not mark run {undone}'s record: {error.message}"
                )

        self.execution.each(list(servers), mark)

    def _record(self, server: str, steps: list[RecordStep]) -> RunRecord:
        facts = self.facts
        return RunRecord(
            format=FORMAT,
            run=self.run_id,
            kind=facts.kind,  # type: ignore[arg-type]
            rolls_back=facts.rolls_back,
            playbook=facts.playbook,
            operator=facts.operator,
            workstation=socket.gethostname(),
            pid=os.getpid(),
            change_id=facts.change_id,
            server=server,
            servers=facts.servers,
            organization_via=facts.organization_via,
            hosts=own_hosts(facts.hosts, server, server == facts.organization_via),
            connection=facts.connection,
            handlers=facts.handlers,
            status="running",
            started=self.started,
            steps=steps,
        )


def _step(
    item: Item, status: str, before: str | None, after: str | None, snapshots_of: str, undoing: bool = False
) -> RecordStep:
    """A step as the record keeps it; a rollback's goes from the undone run's after to its before."""
    old, new = (item.after, item.before) if undoing else (item.before, item.after)
    return RecordStep(
        seq=item.seq,
        server=item.server,
        step=item.step,
        kind=item.kind,
        scope=item.scope,  # type: ignore[arg-type]
        settings=item.settings(),
        target=item.target,
        summary=item.summary,
        notify=list(item.notify),
        status=status,
        before_digest=sha256(old),
        after_digest=sha256(new),
        before=before,
        after=after,
        snapshots_of=snapshots_of,
    )


def _mark(store: RecordStore, server: str, undone: str, by: str) -> None:
    content = store.read_record(undone)
    if content is None:
        return
    record = parse(content, server, store.record_path(undone))
    store.write_record(undone, record.model_copy(update={"rolled_back_by": by}).to_bytes())
