"""Use cases of a team: runs any administrator can see and undo, from the servers' records.

`runs -i`: the runs the servers record, merged with this journal's. `show RUN -i`: a run
known only to the servers. `rollback RUN -i` (app.undoing): a run made on another
workstation. `prune`: old records and snapshots removed from the servers, never those of a
run that is the latest to have changed a target.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from remediate.app.fleet import Fleet
from remediate.model.documents import RunSummary  # one run's summary: what `runs` prints, one model
from remediate.support.errors import RemediateError

if TYPE_CHECKING:
    from remediate.engine.journal import RunRow
    from remediate.engine.remote import RemoteRun
    from remediate.model.record import RunRecord


def summary_of_records(run_id: str, records: dict[str, RunRecord]) -> RunSummary:
    from remediate.engine.remote import RemoteRun

    first = next(iter(records.values()))
    status = RemoteRun(records, {}).status()
    return RunSummary(
        id=run_id,
        kind=first.kind,
        status="running (or interrupted)" if status == "running" else status,
        playbook=first.playbook.name,
        operator=first.operator,
        change_id=first.change_id,
        started=first.started,
        finished=max((r.finished for r in records.values() if r.finished), default=None),
        rolls_back=first.rolls_back,
        rolled_back_by=next((r.rolled_back_by for r in records.values() if r.rolled_back_by), None),
        workstation=first.workstation,
        servers=sorted(records),
        where="servers",
        hosts=list(first.hosts.get("given", [])),
    )


def summary_of_row(run: RunRow) -> RunSummary:
    """A run as this journal knows it."""
    return RunSummary(
        id=run.id,
        kind=run.kind,
        status=str(run.status),
        playbook=run.playbook,
        operator=run.operator,
        change_id=run.change_id,
        started=run.started,
        finished=run.finished,
        rolls_back=run.rolls_back,
        rolled_back_by=run.rolled_back_by,
        workstation=run.machine,
        where="servers" if run.origin == "servers" else "here",
        hosts=list(run.hosts.get("given", [])),
    )


@dataclass(frozen=True)
class RunFilter:
    """Which runs `runs` lists (every one given must hold)."""

    change_id: str | None = None
    since: str | None = None  # an age (7d, 12h) or an ISO date/time
    status: str | None = None
    playbook: str | None = None

    def cutoff(self) -> str | None:
        if self.since is None:
            return None
        if self.since[-1:].lower() in ("d", "w", "h") and self.since[:-1].isdigit():
            return (dt.datetime.now(dt.timezone.utc) - parse_age(self.since)).isoformat(timespec="seconds")
        try:
            when = dt.datetime.fromisoformat(self.since)
        except ValueError:
            raise RemediateError(
                "bad-since",
                f"--since {self.since!r} is neither an age nor a date",
                "give an age (7d, 12w, 36h) or a date (2026-11-01, 2026-11-01T08:00)",
            ) from None
        return (when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)).isoformat(timespec="seconds")

    def keeps(self, run: RunSummary, cutoff: str | None) -> bool:
        return (
            (self.change_id is None or run.change_id == self.change_id)
            and (cutoff is None or _utc(run.started) >= cutoff)
            and (self.status is None or run.status.split(" ")[0] == self.status)
            and (self.playbook is None or run.playbook == self.playbook)
        )


def _utc(stamp: str) -> str:
    when = dt.datetime.fromisoformat(stamp)
    return (when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)).isoformat(timespec="seconds")


def runs(
    state_dir: Path, fleet: Fleet | None, last: int, wanted: RunFilter | None = None
) -> tuple[list[RunSummary], list[str]]:
    """The newest runs (those `wanted` keeps): this journal's, and (with a fleet) those the
    servers record, merged; and what could not be read (a server down, a damaged record)."""
    wanted = wanted or RunFilter()
    cutoff = wanted.cutoff()
    from remediate.app.history import open_journal

    journal = open_journal(state_dir)
    try:
        local = {
            run.id: summary
            for run in journal.runs(100_000 if wanted != RunFilter() else last)
            if wanted.keeps(summary := summary_of_row(run), cutoff)
        }
    finally:
        journal.close()
    if fleet is None:
        return list(local.values())[:last], []
    from remediate.engine.remote import all_records

    merged = dict(local)
    found, problems = all_records(fleet.sessions)
    for run_id, records in found.items():
        remote = summary_of_records(run_id, records)
        mine = merged.get(run_id)
        if mine is None:
            if wanted.keeps(remote, cutoff):
                merged[run_id] = remote
            continue
        mine.servers = remote.servers
        mine.where = "both" if mine.where == "here" else mine.where
        mine.rolled_back_by = mine.rolled_back_by or remote.rolled_back_by
    ordered = sorted(merged.values(), key=lambda run: (run.started, run.id), reverse=True)
    return ordered[:last], [f"{error.message} ({error.reference})" for error in problems.values()]


def find(fleet: Fleet, run_id: str) -> RemoteRun:
    """A run from its records on the fleet's servers (for `show`)."""
    from remediate.engine.remote import find as find_run

    return find_run(fleet.sessions, run_id)


@dataclass(frozen=True)
class Pruned:
    server: str
    run: str
    action: str  # removed | would remove | kept: <why>


def parse_age(text: str) -> dt.timedelta:
    """`90d`, `12w`, `36h`: an age."""
    units = {"d": "days", "w": "weeks", "h": "hours"}
    number, unit = text[:-1], text[-1:].lower()
    if unit not in units or not number.isdigit() or int(number) <= 0:
        raise RemediateError(
            "bad-age",
            f"{text!r} is not an age",
            "give a number and a unit: 90d (days), 12w (weeks), 36h (hours)",
        )
    return dt.timedelta(**{units[unit]: int(number)})


def prune(fleet: Fleet, older_than: dt.timedelta, dry_run: bool) -> list[Pruned]:
    """Remove the records and snapshots of runs that ended more than `older_than` ago from the
    servers: never a run still recorded as running (and not rolled back since), nor one that
    is the latest to have changed a target (what that target holds came from it), nor anything on a server locked by a run."""
    from remediate.engine.locks import held_by
    from remediate.engine.remote import all_records, latest_runs
    from remediate.engine.remote import older_than as is_older
    from remediate.winrm.reader import ServerReader
    from remediate.winrm.records import RecordStore
    from remediate.winrm.writer import ServerWriter

    cutoff = dt.datetime.now(dt.timezone.utc) - older_than
    runs_found, problems = all_records(fleet.sessions)
    keep = latest_runs(runs_found)  # a server not read only makes it keep more
    done = [Pruned(s, "-", f"kept: its records could not be read: {e.message}") for s, e in problems.items()]
    for server, session in fleet.sessions.items():
        if server in problems:
            continue
        mine = sorted(
            (run_id, records[server]) for run_id, records in runs_found.items() if server in records
        )
        old = [(run_id, record) for run_id, record in mine if is_older(record, cutoff)]
        if not old:
            continue
        holder = held_by(ServerReader(session))
        if holder is not None:
            done += [Pruned(server, run_id, f"kept: the server is locked by {holder}") for run_id, _ in old]
            continue
        place = RecordStore(ServerReader(session), ServerWriter(session))
        for run_id, record in old:
            if record.status == "running" and not record.rolled_back_by:
                done.append(Pruned(server, run_id, "kept: recorded as running (roll it back, or it died)"))
            elif run_id in keep:
                done.append(Pruned(server, run_id, "kept: the latest run to change a target"))
            elif dry_run:
                done.append(Pruned(server, run_id, "would remove"))
            else:
                place.remove_run(run_id)
                done.append(Pruned(server, run_id, "removed"))
    return done
