"""The journal as people read it: recent runs, one run with its steps and events."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from remediate.engine.journal import Journal, RunRow, StepRow


def open_journal(state_dir: Path) -> Journal:
    from remediate.engine.journal import Journal

    return Journal.open(state_dir)


def recent(state_dir: Path, limit: int) -> list[RunRow]:
    journal = open_journal(state_dir)
    try:
        return journal.runs(limit)
    finally:
        journal.close()


def one(state_dir: Path, run_id: str) -> tuple[RunRow, list[StepRow], list[tuple[str, str | None, str]]]:
    journal = open_journal(state_dir)
    try:
        return journal.run(run_id), journal.steps(run_id), journal.events(run_id)
    finally:
        journal.close()


def run_summary(run: RunRow) -> dict[str, Any]:
    keys = (
        "id",
        "kind",
        "playbook",
        "change_id",
        "operator",
        "started",
        "finished",
        "rolls_back",
        "rolled_back_by",
    )
    return {**{key: getattr(run, key) for key in keys}, "status": run.status, "hosts": run.hosts.get("given")}
