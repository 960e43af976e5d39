"""One vocabulary, from the journal to the screen: what a step, a run and a server came to.

They are `StrEnum`s: the journal stores their values, JSON output shows them, and a status
misspelt in the code is an error the type checker catches rather than a branch never taken.
"""

from __future__ import annotations

from enum import StrEnum


class StepStatus(StrEnum):
    """A step of a run, as the journal records it (and as reports show it)."""

    PLANNED = "planned"  # recorded, nothing done yet
    MOVED = "moved"  # its target changed since the plan: nothing was written anywhere
    SNAPSHOTTED = "snapshotted"  # the snapshot is durable: from here on, the target may be written
    WRITING = "writing"
    WRITTEN = "written"
    VERIFIED = "verified"  # read back: it holds what was written
    ROLLING_BACK = "rolling-back"  # a restore is being written
    ROLLED_BACK = "rolled-back"  # confirmed back to the snapshot
    ROLLBACK_FAILED = "rollback-failed"
    ROLLBACK_CONFLICT = "rollback-conflict"  # changed by someone else since: left alone
    # in reports only: what became of a step of a run that ended
    APPLIED = "applied"
    NOT_APPLIED = "not-applied"


# After these, the target may differ from its snapshot: every status from "snapshot durable"
# until "confirmed back to the snapshot". A rollback stopped half-way (rolling-back) may have
# deleted the target (Move-Item) or written part of it.
MAY_HAVE_WRITTEN = frozenset(
    {
        StepStatus.SNAPSHOTTED,
        StepStatus.WRITING,
        StepStatus.WRITTEN,
        StepStatus.VERIFIED,
        StepStatus.ROLLING_BACK,
        StepStatus.ROLLBACK_FAILED,
        StepStatus.ROLLBACK_CONFLICT,
    }
)


class RunStatus(StrEnum):
    """A run (an apply or a rollback)."""

    RUNNING = "running"
    ROLLING_BACK = "rolling-back"  # written by versions before 0.x; still read as active
    SUCCEEDED = "succeeded"
    NO_CHANGE = "no-change"
    REFUSED = "refused"  # nothing was changed (locked, moved, ...)
    PARTIAL = "partial"  # some batches applied, a later one failed and was rolled back
    ROLLED_BACK = "rolled-back"  # it failed and rolled itself back
    ROLLBACK_INCOMPLETE = "rollback-incomplete"  # something could not be restored: see the steps
    INTERRUPTED = "interrupted"  # its process is gone while it was still working


ACTIVE = frozenset({RunStatus.RUNNING, RunStatus.ROLLING_BACK})


class ServerOutcome(StrEnum):
    """What an apply did to one server."""

    UNCHANGED = "unchanged"
    APPLIED = "applied"
    ROLLED_BACK = "rolled-back"
    ROLLBACK_INCOMPLETE = "rollback-incomplete"
    UNTOUCHED = "untouched"  # the run stopped before its batch


class Preview(StrEnum):
    """What a rollback would do to one target (`rollback --dry-run`)."""

    NOTHING = "nothing"  # already as before
    RESTORE = "restore"
    CONFLICT = "conflict"  # changed since the run wrote it
    ERROR = "error"  # could not be read
