"""The steps of a run: one `Item` per change to make (or undo), made from a planned `Change`
or read back from the journal, and what became of each (`StepReport`, `Outcome`).

A plan's `Change` carries everything an `Item` needs (the step's settings, the server it goes
through, the exact states), and the journal stores an `Item` whole: apply and undo never look
back into the playbook.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from remediate.kinds.resources import REGISTRY, Resource
from remediate.model.plan import Change, Plan
from remediate.model.status import RunStatus, StepStatus
from remediate.support.errors import RemediateError

if TYPE_CHECKING:
    from remediate.engine.journal import Journal, StepRow
    from remediate.kinds.resources import Reader

Progress = Callable[[str, str], None]  # (server, what is happening)

# Events the journal keeps so that a rollback of a dead run finds what it left behind.
LOCKING = "taking the lock"
ORG_LOCKING = "taking the organization lock"
ORG_UNLOCKED = "unlocked the organization"
HANDLER_STARTED = "running handler"  # journaled before a handler runs; "healthy after" ends it
SHELL_OPENED = "opened shell"  # "opened shell <endpoint> <ShellId>": a runspace pool of the run


@dataclass
class Item:
    """One change to make (or undo): where, what, and its exact states."""

    seq: int
    server: str  # the session that carries it (for organization steps, the server they go through)
    step: str
    kind: str
    spec: Any
    target: str
    before: bytes
    after: bytes
    notify: list[str]
    scope: str
    backup: str | None = None
    status: StepStatus = StepStatus.PLANNED
    summary: str = ""
    diff: str | None = None
    # the runs whose temporary files for this target may be left: the one that made the change,
    # and its rollbacks that died
    leftovers: tuple[str, ...] = ()

    @property
    def resource(self) -> Resource:
        return REGISTRY[self.kind]

    @classmethod
    def of_change(cls, seq: int, change: Change) -> Item:
        """The item that applies a planned change."""
        return cls(
            seq=seq,
            server=change.server,
            step=change.step,
            kind=change.kind,
            spec=REGISTRY[change.kind].spec.model_validate(change.settings),
            target=change.target or "",
            before=change.before_state,
            after=change.after_state,
            notify=list(change.notify),
            scope=change.scope,
            summary=change.summary,
            diff=change.diff,
        )

    @classmethod
    def of_row(cls, row: StepRow, leftovers: tuple[str, ...] = ()) -> Item:
        """The item as the journal kept it (for a rollback, now or weeks later)."""
        return cls(
            seq=row.seq,
            server=row.server,
            step=row.step,
            kind=row.kind,
            spec=REGISTRY[row.kind].spec.model_validate(row.spec),
            target=row.target,
            before=row.before_state or b"",
            after=row.after_state or b"",
            notify=row.notify,
            scope=row.scope,
            backup=row.backup,
            status=StepStatus(row.status),
            summary=row.summary,
            diff=row.diff,
            leftovers=leftovers,
        )

    def settings(self) -> dict[str, Any]:
        return self.spec.model_dump(exclude_unset=True)  # type: ignore[no-any-return]


def items_of(plan: Plan) -> list[Item]:
    """The plan's changes to make, in playbook order: each server step on each server, then
    each organization step once (the plan lists them in that order)."""
    changes = [c for c in plan.all_changes() if c.action == "change"]
    order = {step: index for index, step in enumerate(plan.steps)}
    ordered = sorted(changes, key=lambda c: order[c.step])  # stable: servers keep their order
    return [Item.of_change(seq, change) for seq, change in enumerate(ordered, start=1)]


def record(journal: Journal, run_id: str, items: list[Item]) -> None:
    """Put a run's steps in the journal (status planned) before any of them is acted on."""
    for item in items:
        journal.add_step(run_id, item)


@dataclass(frozen=True)
class StepReport:
    seq: int
    server: str
    step: str
    target: str
    status: str  # a StepStatus, or a Preview for `rollback --dry-run`
    message: str
    backup: str | None = None

    @classmethod
    def of(cls, item: Item, status: str, message: str) -> StepReport:
        return cls(item.seq, item.server, item.step, item.target, status, message, item.backup)


@dataclass
class Outcome:
    run_id: str
    kind: str
    status: RunStatus
    steps: list[StepReport] = field(default_factory=list)
    handlers: list[str] = field(default_factory=list)
    failure: RemediateError | None = None
    servers: dict[str, str] = field(default_factory=dict)  # server -> ServerOutcome
    # each server's Exchange build and preconditions as planned (for the change ticket's report)
    preflight: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in (RunStatus.SUCCEEDED, RunStatus.NO_CHANGE)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "kind": self.kind,
            "status": str(self.status),
            "failure": None
            if self.failure is None
            else {
                "reference": self.failure.reference,
                "message": self.failure.message,
                "hint": self.failure.hint,
            },
            "steps": [s.__dict__ for s in self.steps],
            "handlers": self.handlers,
            "servers": self.servers,
            "preflight": self.preflight,
        }


def observed_state(item: Item, reader: Reader) -> bytes | None:
    """A target's state; None if it is missing (a file between Move-Item's two steps)."""
    try:
        return item.resource.state(item.spec, item.target, reader)
    except RemediateError as error:
        if error.reference == "file-missing":
            return None
        raise


def handlers_for(items: Iterable[Item], servers: Iterable[str]) -> dict[str, list[str]]:
    """Which handlers each server runs: those its own changes notified, and those organization
    changes notified (organization settings are cached by every server)."""
    wanted: dict[str, list[str]] = {server: [] for server in servers}
    for item in items:
        where = wanted if item.scope == "organization" else {item.server: wanted.setdefault(item.server, [])}
        for names in where.values():
            names.extend(name for name in item.notify if name not in names)
    return {server: names for server, names in wanted.items() if names}
