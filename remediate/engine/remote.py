"""Runs as the servers record them: listing them, checking them against the journal, taking
one into the journal (to roll back a run made on another workstation), and pruning old ones.

A run's records (one per server it touched, `engine.recording`) must agree: with each other
(the same run, playbook and steps) and, where this journal knows the run, with the journal
(each step's digests). Where they do not, the error says where and what; remediate never
picks one side silently, and never writes a snapshot whose bytes do not match its digest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from remediate.engine.execution import DEFAULT_FORKS, each
from remediate.engine.journal import RECORDED
from remediate.engine.locks import held_by_run
from remediate.model.record import RecordStep, RunRecord, merged_hosts, parse
from remediate.model.status import StepStatus
from remediate.support.errors import RemediateError
from remediate.winrm.reader import ServerReader
from remediate.winrm.records import RecordStore, check_run_id

if TYPE_CHECKING:
    from remediate.engine.journal import Journal, RunRow
    from remediate.winrm.session import Session

T = TypeVar("T")


def changed(record: RunRecord, status: str) -> bool:
    """Whether a step of `record` with `status` changed its target: an apply's step written (not
    one its own failure rolled back), a rollback's step restored."""
    if record.kind == "rollback":
        return status == StepStatus.ROLLED_BACK
    return status in (StepStatus.VERIFIED, StepStatus.WRITTEN)


def per_server(
    sessions: dict[str, Session], action: Callable[[str, Session], T], forks: int = DEFAULT_FORKS
) -> dict[str, T | RemediateError]:
    """`action(name, session)` on the servers at once (up to `forks`, `execution.each`): each
    server's result, or the RemediateError it raised. Records are read so: one after another,
    `plan` on 50 servers waited for 50 reads of a record in turn."""

    def one(item: tuple[str, Session]) -> T | RemediateError:
        try:
            return action(*item)
        except RemediateError as error:
            return error

    items = list(sessions.items())
    results = each(forks, items, one, lambda *_: None)
    return {name: result for (name, _), result in zip(items, results, strict=True)}


def store(session: Session) -> RecordStore:
    return RecordStore(ServerReader(session))


def read(place: RecordStore, server: str, run_id: str) -> RunRecord | None:
    """The record of `run_id` in its folder on `server`, checked; None if there is none."""
    content = place.read_record(run_id)
    if content is None:
        return None
    where = place.record_path(run_id)
    record = parse(content, server, where)
    if record.run != run_id:
        raise RemediateError(
            "record-disagrees",
            f"{server}: {where} is the record of run {record.run}, kept in run {run_id}'s folder",
            "it was copied or edited on the server: remediate does not use it",
        )
    foreign = [s.seq for s in record.steps if s.server != record.server]
    if foreign:
        raise RemediateError(
            "record-disagrees",
            f"{server}: {where}: step {foreign[0]} names another server than the record's ({record.server})",
            "a record holds only the steps that went through its server: it was edited",
        )
    return record


def records_of(sessions: dict[str, Session], run_id: str) -> dict[str, RunRecord]:
    """The run's record on each server that has one, by the server's name here."""
    check_run_id(run_id)
    found = {}
    for name, record in per_server(
        sessions, lambda name, session: read(store(session), name, run_id)
    ).items():
        if isinstance(record, RemediateError):
            raise record
        if record is not None:
            found[name] = record
    return found


def all_records(
    sessions: dict[str, Session],
) -> tuple[dict[str, dict[str, RunRecord]], dict[str, RemediateError]]:
    """Every record on every server (run id -> server name here -> record), and the servers
    whose records could not all be read (unreachable, or a record damaged), with why."""
    runs: dict[str, dict[str, RunRecord]] = {}
    problems: dict[str, RemediateError] = {}

    def server_records(name: str, session: Session) -> dict[str, RunRecord]:
        place = store(session)
        return {
            run_id: record for run_id in place.run_ids() if (record := read(place, name, run_id)) is not None
        }

    for name, found in per_server(sessions, server_records).items():
        if isinstance(found, RemediateError):
            problems[name] = found
            continue
        for run_id, record in found.items():
            runs.setdefault(run_id, {})[name] = record
    return runs, problems


@dataclass(frozen=True)
class RemoteRun:
    """A run as its records tell it, and how to reach its servers from here."""

    records: dict[str, RunRecord]  # by the name the run gave the server
    sessions: dict[str, Session]  # the same names -> sessions opened here

    @property
    def first(self) -> RunRecord:
        return next(iter(self.records.values()))

    def status(self) -> str:
        """What the run came to, from its servers' statuses."""
        states = {record.status for record in self.records.values()}
        if "running" in states:
            return "running"
        if "rollback-incomplete" in states:
            return "rollback-incomplete"
        if self.first.kind == "rollback":
            return "succeeded" if states <= {"succeeded"} else "rollback-incomplete"
        if "applied" in states:
            return "partial" if "rolled-back" in states else "succeeded"
        return "rolled-back" if "rolled-back" in states else "no-change"


def find(sessions: dict[str, Session], run_id: str) -> RemoteRun:
    """A run from its records on the given servers; every server it changed must be among them."""
    found = records_of(sessions, run_id)
    if not found:
        raise RemediateError(
            "run-not-found",
            f"no run {run_id!r} in this journal, nor on {', '.join(sessions) or 'any server'}",
            "give the servers the run changed (--host or -i); `remediate runs -i INVENTORY` lists the runs "
            "the servers know",
        )
    records: dict[str, RunRecord] = {}
    reach: dict[str, Session] = {}
    for name, record in found.items():
        records[record.server] = record
        reach[record.server] = sessions[name]
    first = next(iter(records.values()))
    for record in records.values():
        same = (
            record.kind,
            record.playbook.digest,
            record.started,
            record.servers,
            record.organization_via,
        ) == (first.kind, first.playbook.digest, first.started, first.servers, first.organization_via)
        if not same:
            raise RemediateError(
                "record-disagrees",
                f"the records of run {run_id} on {first.server} and {record.server} tell different runs",
                "a record was edited or copied between servers: remediate does not use them",
            )
    # a server of the run without a record here was not touched by it; one not given at all may
    # have been, and its steps are recorded only there
    given = {name.lower() for name in sessions}
    missing = [server for server in first.servers if server not in records and server.lower() not in given]
    if missing:
        raise RemediateError(
            "servers-missing",
            f"run {run_id} also reached {', '.join(missing)}, which are not among the servers given: what it "
            "did there is recorded there",
            "give every server of the run, by the names it used (-i with the same inventory, or --host for each)",
        )
    return RemoteRun(records, reach)


def check_agreement(
    journal: Journal, run: RunRow, sessions: dict[str, Session], records: dict[str, RunRecord] | None = None
) -> None:
    """Before a rollback of a run this journal knows: its records on the servers agree with the
    journal, exist where the journal says they were written, and do not say it was rolled back
    from another workstation. `records`: the run's records already read (`find`), by the names
    the run gave its servers; else each is read here."""
    from remediate.engine.undo import dead_rollbacks

    dead = set(dead_rollbacks(journal, run))
    recorded = {server for _, server, message in journal.events(run.id) if message == RECORDED and server}
    steps = {step.seq: step for step in journal.steps(run.id)}
    reached = {server: sessions[server] for server in sorted(recorded) if server in sessions}
    if records is None:
        records = records_of(reached, run.id)
    for server, session in reached.items():
        place = store(session)
        record = records.get(server)
        if record is None:
            raise RemediateError(
                "record-missing",
                f"{server}: the record of run {run.id} is gone from {place.record_path(run.id)}",
                "it was removed on the server (pruned, or by hand); to roll back from this journal alone, "
                "add --trust-journal",
            )
        if record.rolled_back_by and record.rolled_back_by not in dead:
            # (a rollback of this journal that restored everything and died before it said so
            # here is finished by this one: it takes over its locks)
            raise RemediateError(
                "already-rolled-back",
                f"run {run.id} was already rolled back by run {record.rolled_back_by} (recorded on {server})",
                "it was rolled back from another workstation: `remediate show "
                f"{record.rolled_back_by} -i INVENTORY` shows it",
            )
        for kept in record.steps:
            row = steps.get(kept.seq)
            if (
                row is None
                or row.target != kept.target
                or (row.before_digest, row.after_digest)
                != (
                    kept.before_digest,
                    kept.after_digest,
                )
            ):
                if row is not None and row.before_digest is None:
                    continue  # the journal had not reached this step's snapshot
                raise RemediateError(
                    "record-disagrees",
                    f"{server}: the record of run {run.id} and this journal disagree on step {kept.seq} "
                    f"({kept.target})",
                    "the record was edited on the server, or the journal is not this run's: remediate "
                    "changes nothing; to roll back from this journal alone, add --trust-journal",
                )


def take_in(journal: Journal, remote: RemoteRun, break_lock: str | None) -> RunRow:
    """Put a run known only to its records into this journal, to roll it back from here: each
    step with the exact states read from its snapshots (checked against the record's digests)."""
    first = remote.first
    status = remote.status()
    if first.kind != "apply":
        raise RemediateError(
            "rollback-of-rollback",
            f"run {first.run} is itself a rollback (of {first.rolls_back}); it cannot be rolled back",
            "to make the change again, apply the playbook again",
        )
    by = next((r.rolled_back_by for r in remote.records.values() if r.rolled_back_by), None)
    if by:
        raise RemediateError(
            "already-rolled-back", f"run {first.run} was already rolled back by run {by}", "nothing to do"
        )
    if status == "running":
        holders = [
            s for s, session in remote.sessions.items() if held_by_run(ServerReader(session)) == first.run
        ]
        if holders and break_lock != first.run:
            raise RemediateError(
                "run-in-progress",
                f"run {first.run} ({first.operator} on {first.workstation}) still holds the lock on "
                f"{', '.join(holders)}",
                f"wait for it to finish; if it died on {first.workstation}, pass --break-lock {first.run}",
            )
        status = "interrupted"
    steps = []
    for server, record in remote.records.items():
        place = store(remote.sessions[server])
        for kept in record.steps:
            _check_kind(server, record, kept)
            before = place.read_snapshot(kept.before, kept.before_digest) if kept.before else None
            after = place.read_snapshot(kept.after, kept.after_digest) if kept.after else None
            if before is None or after is None:
                raise RemediateError(
                    "snapshot-missing",
                    f"{server}: run {first.run}'s record keeps no snapshot for step {kept.seq} ({kept.target})",
                    "remediate cannot restore it exactly",
                )
            steps.append((kept, before, after))
    hosts = merged_hosts(list(remote.records.values()))  # each record keeps part of it
    journal.take_in(first.model_copy(update={"hosts": hosts}), status, steps, list(remote.records))
    return journal.run(first.run)


def older_than(record: RunRecord, cutoff: dt.datetime) -> bool:
    when = dt.datetime.fromisoformat(record.finished or record.started)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when < cutoff


def latest_runs(runs: dict[str, dict[str, RunRecord]]) -> set[str]:
    """The runs that are the latest to have changed some target (organization targets across
    all servers): never pruned, they are what the targets hold now."""
    latest: dict[tuple[str, str], tuple[str, str]] = {}
    for run_id, records in runs.items():
        for record in records.values():
            for step in record.steps:
                if not changed(record, step.status) and step.status != "snapshotted":
                    continue
                where = "" if step.scope == "organization" else record.server.lower()
                key = (where, step.target.lower())
                if key not in latest or (record.started, run_id) > latest[key]:
                    latest[key] = (record.started, run_id)
    return {run_id for _, run_id in latest.values()}


def _check_kind(server: str, record: RunRecord, step: RecordStep) -> None:
    """A step's resource kind is one this remediate knows, with settings it accepts."""
    from pydantic import ValidationError

    from remediate.kinds.resources import REGISTRY

    kind = REGISTRY.get(step.kind)
    try:
        if kind is None:
            raise ValueError(f"unknown resource kind {step.kind!r}")
        kind.spec.model_validate(step.settings)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise RemediateError(
            "record-unreadable",
            f"{server}: run {record.run}'s record, step {step.seq}: {step.kind} settings: {where}: {first['msg']}",
            "it was written by another version of remediate, or edited: remediate does not use it",
        ) from None
    except ValueError as error:
        raise RemediateError(
            "record-unreadable",
            f"{server}: run {record.run}'s record, step {step.seq}: {error}",
            "it was written by another version of remediate, or edited: remediate does not use it",
        ) from None
