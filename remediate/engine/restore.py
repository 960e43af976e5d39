"""Putting one target back as it was before a step: the exact snapshot, or (`inverse`) only
the step's own change undone where someone changed the target since. Used by a failing
batch's rollback (`engine.apply`) and by `rollback` (`engine.undo`)."""

from __future__ import annotations

from remediate.engine.execution import Execution
from remediate.engine.steps import Item, StepReport, observed_state
from remediate.model.status import StepStatus
from remediate.support.clock import now
from remediate.support.errors import RemediateError


def restore(execution: Execution, item: Item, *, strategy: str = "exact", force: bool = False) -> StepReport:
    """Put one target back as it was before `item`; never raises."""
    resource, spec = item.resource, item.spec

    def report(status: StepStatus, message: str) -> StepReport:
        return StepReport.of(item, status, message)

    try:
        current = execution.with_reconnect(
            item.server, lambda: observed_state(item, execution.reader(item.server))
        )
        for tag in dict.fromkeys((*item.leftovers, execution.run_id)):
            resource.cleanup(spec, item.target, execution.writer(item.server), tag)
        if current is not None and resource.same(spec, current, item.before):
            execution.step_status(item, StepStatus.ROLLED_BACK, finished=now())
            return report(StepStatus.ROLLED_BACK, "already as before")
        if current is None:
            # Move-Item -Force deletes the target, then renames the new file: a run stopped
            # between the two leaves no target. Nothing is there to overwrite.
            wanted, how = item.before, "recreated from the snapshot (it was missing)"
        elif resource.same(spec, current, item.after) or force:
            wanted, how = item.before, "restored the snapshot"
        elif strategy == "inverse":
            wanted, how = (
                resource.inverse(spec, item.before, item.after, current),
                "undid only this change",
            )
        else:
            execution.step_status(
                item, StepStatus.ROLLBACK_CONFLICT, error="changed since this run wrote it", finished=now()
            )
            return report(
                StepStatus.ROLLBACK_CONFLICT,
                "changed since this run wrote it; not overwritten: use --strategy inverse (undo only this "
                "change) or --force (restore the exact snapshot)",
            )
        execution.step_status(item, StepStatus.ROLLING_BACK)
        held = execution.with_reconnect(
            item.server,
            lambda: resource.write(
                spec, item.target, wanted, execution.writer(item.server), execution.run_id
            ),
        )
        if held is None:
            held = execution.with_reconnect(
                item.server, lambda: resource.holds(spec, item.target, wanted, execution.reader(item.server))
            )
        if not held:
            raise RemediateError(
                "verify-failed", f"{item.target} does not hold what was restored", "restore it by hand"
            )
        execution.step_status(item, StepStatus.ROLLED_BACK, finished=now())
        execution.progress(item.server, f"rolled back {item.target}")
        return report(StepStatus.ROLLED_BACK, how)
    except RemediateError as error:
        execution.step_status(item, StepStatus.ROLLBACK_FAILED, error=error.message, finished=now())
        by_hand = f"; restore by hand: copy {item.backup} over {item.target}" if item.backup else ""
        return report(StepStatus.ROLLBACK_FAILED, f"{error.message}{by_hand}")


def restore_all(
    execution: Execution, items: list[Item], *, strategy: str = "exact", force: bool = False
) -> list[StepReport]:
    """Restore each item, last first on each server, the servers at once (up to `--forks`, as
    apply changes them); one that fails does not stop the others. The reports in the order of
    `reversed(items)`."""
    return execution.each_in_turn(
        list(reversed(items)), lambda item: restore(execution, item, strategy=strategy, force=force)
    )
