"""What `--output json` prints: one JSON document per command, each with `format` and `kind`.

Every document is built as one of these models (so what is printed is what the schema says),
and `remediate schema --output KIND` publishes its JSON Schema. One shape per concept: a plan
is the same object in `plan`, `check` and `apply`; a run the same in `runs` and `show`.
Bump FORMAT when a field changes meaning or goes away; adding one is not a new format.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

FORMAT: Literal[1] = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(_Strict):
    reference: str
    message: str
    hint: str | None = None


class PlannedChange(_Strict):
    step: str
    kind: str
    settings: dict[str, Any]
    scope: Literal["server", "organization"]
    action: Literal["change", "none", "error"]
    summary: str
    target: str | None
    before: Any
    after: Any
    diff: str | None
    fingerprint: str | None
    notify: list[str]
    problem: Problem | None
    last_change: str | None = Field(
        description="The run that last changed the target, from the servers' records."
    )


class Preflight(_Strict):
    check: str
    problem: str | None
    applies: bool = Field(True, description="False: not for this server (a set member's `servers`).")


class HandlerRun(_Strict):
    name: str
    commands: list[str]
    because: list[str]


class ServerPlan(_Strict):
    server: str
    endpoint: str
    build: str | None
    preflight: list[Preflight]
    problem: Problem | None
    locked_by: str | None
    variables: dict[str, Any] = Field(
        description="The variables whose values on this server differ from the plan's (the inventory's)."
    )
    changes: list[PlannedChange]
    handlers: list[HandlerRun]


class OrganizationPlan(_Strict):
    via: str | None
    problem: Problem | None
    changes: list[PlannedChange]


class HandlerSpec(_Strict):
    kind: str
    settings: dict[str, Any]


class Summary(_Strict):
    change: int
    unchanged: int
    errors: int


class Plan(_Strict):
    """What a playbook would change (`plan`, `check`, `apply --dry-run`, and before `apply`)."""

    playbook: str
    source: str
    digest: str
    notice: str | None
    servers: list[ServerPlan]
    organization: OrganizationPlan
    handlers: dict[str, HandlerSpec]
    steps: list[str]
    variables: dict[str, Any] = Field(description="The values the playbook's variables were given.")
    summary: Summary


class StepOutcome(_Strict):
    seq: int
    server: str
    step: str
    target: str
    status: str
    message: str
    backup: str | None = Field(description="Where the step's snapshot is kept on the server.")


class ServerPreflight(_Strict):
    server: str
    build: str | None
    checks: list[Preflight]


class Outcome(_Strict):
    """What an apply or a rollback came to."""

    run: str
    kind: Literal["apply", "rollback"]
    status: str
    failure: Problem | None
    steps: list[StepOutcome]
    handlers: list[str]
    servers: dict[str, str]
    preflight: list[ServerPreflight] = Field(description="Each server's build and preconditions, as planned.")


class RunSummary(_Strict):
    """One run, as this journal and/or the servers' records know it."""

    id: str
    kind: str
    status: str
    playbook: str
    operator: str
    change_id: str | None
    started: str
    finished: str | None
    rolls_back: str | None
    rolled_back_by: str | None
    workstation: str
    servers: list[str] = Field(default_factory=list, description="The servers whose records know the run.")
    where: Literal["here", "servers", "both"]
    hosts: list[str] = Field(description="The servers as the run was given them.")


class Error(_Strict):
    format: Literal[1] = FORMAT
    kind: Literal["error"] = "error"
    error: Problem


class PlanDocument(Plan):
    format: Literal[1] = FORMAT
    kind: Literal["plan"] = "plan"


class ApplyDocument(_Strict):
    format: Literal[1] = FORMAT
    kind: Literal["apply"] = "apply"
    plan: Plan
    outcome: Outcome | None = Field(description="None for --dry-run, or when nothing was applied.")


class Preview(_Strict):
    seq: int
    server: str
    step: str
    target: str
    status: str
    message: str
    backup: str | None


class RollbackDocument(_Strict):
    format: Literal[1] = FORMAT
    kind: Literal["rollback"] = "rollback"
    rolls_back: str
    preview: list[Preview]
    outcome: Outcome | None = Field(description="None for --dry-run.")


class RunsDocument(_Strict):
    format: Literal[1] = FORMAT
    kind: Literal["runs"] = "runs"
    runs: list[RunSummary]
    problems: list[str] = Field(description="What could not be read (a server down, a damaged record).")


class JournalStep(_Strict):
    seq: int
    server: str
    step: str
    kind: str
    scope: str
    spec: dict[str, Any]
    target: str
    summary: str
    diff: str | None
    notify: list[str]
    status: str
    before_digest: str | None
    after_digest: str | None
    backup: str | None
    error: str | None
    started: str | None
    finished: str | None


class Event(_Strict):
    time: str
    server: str | None
    message: str


class RunDocument(_Strict):
    """One run with its steps and events (`show RUN`): from this journal, or from the servers'
    records (`records`, one per server; then `steps` and `events` are empty)."""

    format: Literal[1] = FORMAT
    kind: Literal["run"] = "run"
    run: RunSummary
    connection: dict[str, Any]
    handlers: dict[str, Any]
    steps: list[JournalStep]
    events: list[Event]
    outcome: dict[str, Any] | None
    records: dict[str, Any] = Field(default_factory=dict)


class PlaybookDocument(_Strict):
    format: Literal[1] = FORMAT
    kind: Literal["playbook"] = "playbook"
    name: str
    source: str
    digest: str
    playbook: dict[str, Any]


class PruneLine(_Strict):
    server: str
    run: str
    action: str


class PruneDocument(_Strict):
    format: Literal[1] = FORMAT
    kind: Literal["prune"] = "prune"
    dry_run: bool
    results: list[PruneLine]


class Fix(_Strict):
    playbook: str
    why: str
    alternatives: list[str]


class Finding(_Strict):
    source: str
    code: int | None
    category: str
    meaning: str
    reason: str | None
    cause: str | None
    fix: Fix | None
    details: dict[str, str]


class DiagnoseDocument(_Strict):
    format: Literal[1] = FORMAT
    kind: Literal["diagnose"] = "diagnose"
    findings: list[Finding]


class ListedPlaybook(_Strict):
    name: str
    description: str
    notice: str | None
    digest: str


class ListDocument(_Strict):
    format: Literal[1] = FORMAT
    kind: Literal["list"] = "list"
    playbooks: list[ListedPlaybook]


DOCUMENTS: dict[str, type[BaseModel]] = {
    "list": ListDocument,
    "diagnose": DiagnoseDocument,
    "plan": PlanDocument,
    "apply": ApplyDocument,
    "rollback": RollbackDocument,
    "runs": RunsDocument,
    "run": RunDocument,
    "playbook": PlaybookDocument,
    "prune": PruneDocument,
    "error": Error,
}
