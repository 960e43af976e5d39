"""Use case `rollback`: undo a recorded run, now or weeks later, from the journal.

The CLI calls these in order, asking the operator between them: `prepare` (refusals, the
servers the run used), `settle` (stop what a dead run left running, before anything is
read), `preview` (what would be restored), then `roll_back`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

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


def prepare(journal: Journal, run_id: str) -> RunRow:
    """The run to roll back; refused (RemediateError) when there is nothing to do or it still runs."""
    from remediate.engine.undo import rollback_refusal

    run = journal.run(run_id)
    refusal = rollback_refusal(journal, run)
    if refusal is not None:
        raise refusal
    return run


def settle(journal: Journal, run: RunRow, fleet: Fleet) -> list[str]:
    """Stop what a dead run (or its dead rollbacks) left running on the servers."""
    from remediate.engine.undo import settle as settle_run

    return settle_run(journal, run, fleet.sessions)


def preview(journal: Journal, run: RunRow, fleet: Fleet) -> list[StepReport]:
    from remediate.engine.undo import preview_rollback

    return preview_rollback(journal, run, fleet.sessions)


def roll_back(
    journal: Journal, run: RunRow, fleet: Fleet, settings: UndoSettings, progress: Progress
) -> Outcome:
    from remediate.engine.journal import operator
    from remediate.engine.undo import rollback_run

    return rollback_run(
        journal,
        run,
        fleet.sessions,
        operator=operator(fleet.username),
        progress=progress,
        strategy=settings.strategy,
        force=settings.force,
        health_timeout=settings.health_timeout,
        break_lock=settings.break_lock,
        settled=True,  # the caller settled before the preview read anything
    )
