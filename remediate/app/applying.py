"""Use case `apply`: a plan just made, or a saved plan derived again and checked, applied in
batches with snapshots, verification, handlers, health and rollback on failure."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from remediate.app.fleet import Fleet
from remediate.app.planning import Planned
from remediate.support.errors import RemediateError

if TYPE_CHECKING:
    from remediate.engine.journal import Journal
    from remediate.engine.steps import Outcome, Progress
    from remediate.model.saved_plan import SavedPlan


@dataclass(frozen=True)
class ApplySettings:
    change_id: str | None = None
    break_lock: str | None = None  # "dead", or a run id
    health_timeout: float = 120.0
    serial: int = 1  # servers changed at a time (0: all)
    max_failures: int = 0  # failed batches tolerated before the run stops
    forks: int = 50  # servers worked on at once (reads, and the servers of a batch)


def refuse_errors(planned: Planned) -> None:
    """A plan with errors is never applied, not even in part."""
    if planned.plan.errors:
        raise RemediateError(
            "plan-has-errors",
            "the plan has errors, so nothing was applied",
            "fix the errors above and run again",
        )


def apply(planned: Planned, journal: Journal, settings: ApplySettings, progress: Progress) -> Outcome:
    from remediate.engine.apply import apply_plan
    from remediate.engine.journal import operator

    refuse_errors(planned)
    return apply_plan(
        planned.plan,
        planned.fleet.sessions,
        journal,
        operator=operator(planned.fleet.username),
        change_id=settings.change_id,
        hosts=planned.hosts,
        connection=planned.fleet.connection_meta(),
        progress=progress,
        health_timeout=settings.health_timeout,
        break_lock=settings.break_lock,
        serial=settings.serial,
        max_failures=settings.max_failures,
        forks=settings.forks,
    )


def is_saved_plan(argument: str) -> bool:
    """A saved plan (`.plan`, or JSON under another name) rather than a playbook."""
    path = Path(argument)
    if path.suffix == ".plan":
        return True
    if not path.is_file() or path.suffix in (".yaml", ".yml"):
        return False
    with path.open("rb") as handle:
        return handle.read(64).lstrip().startswith(b"{")


def load_saved(path: Path, expect_digest: str | None, change_id: str | None) -> SavedPlan:
    """A saved plan, checked: its own digest, the one pinned in the ticket, its change id."""
    from remediate.model import saved_plan

    saved = saved_plan.load(path)
    # the digest of the content just read and checked, not of the file read again: a file
    # swapped in between must not pass for the reviewed one
    if expect_digest and saved.digest != expect_digest.lower():
        raise RemediateError(
            "plan-not-the-reviewed-one",
            f"{path} has digest {saved.digest}, not {expect_digest}: it is not the plan that was reviewed",
            "apply the file attached to the change ticket, or have this one reviewed",
        )
    if change_id and saved.change_id and change_id != saved.change_id:
        raise RemediateError(
            "plan-change-id",
            f"{path} was made for change {saved.change_id}, not {change_id}",
            "apply it under the change it was reviewed for (or drop --change-id)",
        )
    return saved


@contextmanager
def saved_planned(saved: SavedPlan, open_fleet: Callable[[], Fleet]) -> Iterator[Planned]:
    """The saved plan derived again from its playbook and the servers' current state (it must
    come out as the reviewed one: `stale-plan`, `plan-tampered` otherwise)."""
    from remediate.engine.decide import derive_again

    with open_fleet() as fleet:
        the_plan = derive_again(saved, fleet.readers())
        yield Planned(the_plan, saved.playbook, fleet, saved.hosts)
