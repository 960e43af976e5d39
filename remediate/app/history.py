"""The journal as people read it: one run with its steps and events (recent runs: app.team)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from remediate.engine.journal import Journal, RunRow, StepRow


def open_journal(state_dir: Path) -> Journal:
    from remediate.engine.journal import Journal

    return Journal.open(state_dir)


def one(state_dir: Path, run_id: str) -> tuple[RunRow, list[StepRow], list[tuple[str, str | None, str]]]:
    journal = open_journal(state_dir)
    try:
        return journal.run(run_id), journal.steps(run_id), journal.events(run_id)
    finally:
        journal.close()
