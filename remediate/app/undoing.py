"""Use case `rollback`: undo a recorded run, now or weeks later, from this workstation or another.

The CLI calls these in order, asking the operator between them: `prepare` (refusals, the
servers the run used; with servers given, a run known only to their records is taken into
the journal, and a run the journal knows is checked against its records), `settle` (stop
what a dead run left running, before anything is read), `preview` (what would be restored),
then `roll_back`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from remediate.app.fleet import Fleet

if TYPE_CHECKING:
    from remediate.engine.journal import Journal, RunRow
    from remediate.engine.steps import Outcome, Progress, StepReport


@dataclass(frozen=True)
class UndoSettings:
    strategy: str = "exact"  # or "inverse": undo only this run's change where a target moved since
    force: bool = False  # restore the snapshots even over later changes
    break_lock: str | None = None
    health_timeout: float = 120.0
    trust_journal: bool = False  # roll back from the journal where the servers' records disagree
    forks: int = 50  # servers worked on at once


@dataclass(frozen=True)
class Reach:
    """The run's servers, by the names the run gave them, as reached from here."""

    sessions: dict[str, Any]
    username: str | None


def prepare(journal: Journal, run_id: str) -> RunRow:
    """The run to roll back; refused (RemediateError) when there is nothing to do or it still runs."""
    from remediate.engine.undo import rollback_refusal

    run = journal.run(run_id)
    refusal = rollback_refusal(journal, run)
    if refusal is not None:
        raise refusal
    return run


def reach(fleet: Fleet) -> Reach:
    """The run's servers reached as the run reached them (a fleet opened from the journal)."""
    return Reach(fleet.sessions, fleet.username)


def check(
    journal: Journal,
    run: RunRow,
    servers: Reach,
    settings: UndoSettings,
    records: dict[str, Any] | None = None,
) -> None:
    """The servers' records of the run agree with the journal (unless told to trust it);
    `records`: those already read, not read again."""
    from remediate.engine.remote import check_agreement

    if not settings.trust_journal:
        check_agreement(journal, run, servers.sessions, records)


def from_servers(
    journal: Journal, run_id: str, fleet: Fleet, settings: UndoSettings, *, dry_run: bool = False
) -> tuple[RunRow, Reach, Journal]:
    """The run, found through the given servers' records: taken into the journal if it was
    made elsewhere (for a dry run, into a throwaway one: `discard` it), checked against them if
    this journal knows it. Returns the journal that holds it."""
    from remediate.engine.remote import find, take_in
    from remediate.support.errors import RemediateError

    remote = find(fleet.sessions, run_id)
    servers = Reach(remote.sessions, fleet.username)
    try:
        journal.run(run_id)
    except RemediateError as error:
        if error.reference != "run-not-found":
            raise
        holder = _scratch() if dry_run else journal
        take_in(holder, remote, settings.break_lock)
        return prepare(holder, run_id), servers, holder
    run = prepare(journal, run_id)
    check(journal, run, servers, settings, remote.records)  # read by `find`: not read again
    return run, servers, journal


def _scratch() -> Journal:
    import tempfile
    from pathlib import Path

    from remediate.engine.journal import Journal

    return Journal.open(Path(tempfile.mkdtemp(prefix="remediate-dry-run-")))


def discard(used: Journal, journal: Journal) -> None:
    """Close a throwaway journal `from_servers` made for a dry run, and remove it."""
    if used is journal:
        return
    import shutil

    used.close()
    shutil.rmtree(used.path.parent, ignore_errors=True)


def settle(journal: Journal, run: RunRow, servers: Reach) -> list[str]:
    """Stop what a dead run (or its dead rollbacks) left running on the servers."""
    from remediate.engine.undo import settle as settle_run

    return settle_run(journal, run, servers.sessions)


def preview(journal: Journal, run: RunRow, servers: Reach, settings: UndoSettings) -> list[StepReport]:
    """What the rollback would do to each target, with the chosen strategy."""
    from remediate.engine.undo import preview_rollback

    return preview_rollback(
        journal, run, servers.sessions, strategy=settings.strategy, force=settings.force, forks=settings.forks
    )


def roll_back(
    journal: Journal, run: RunRow, servers: Reach, settings: UndoSettings, progress: Progress
) -> Outcome:
    from remediate.engine.journal import operator
    from remediate.engine.undo import rollback_run

    return rollback_run(
        journal,
        run,
        servers.sessions,
        operator=operator(servers.username),
        progress=progress,
        strategy=settings.strategy,
        force=settings.force,
        health_timeout=settings.health_timeout,
        break_lock=settings.break_lock,
        settled=True,  # the caller settled before the preview read anything
        forks=settings.forks,
    )
