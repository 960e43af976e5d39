"""Use case `report`: what a change ticket gets, for a run (from the journal) or for a saved
plan before approval. Gathered here as plain data; `cli/report.py` writes it as Markdown or as
one self-contained HTML file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Check:
    label: str
    problem: str | None
    applies: bool = True

    @property
    def result(self) -> str:
        """As the report's table shows it: a problem, ok, or - (not for this server)."""
        return self.problem or ("ok" if self.applies else "-")


@dataclass(frozen=True)
class ServerCheck:
    server: str
    build: str | None
    checks: list[Check]


@dataclass(frozen=True)
class Step:
    seq: int
    server: str
    step: str
    target: str
    summary: str
    status: str
    message: str  # what became of it (the outcome's words), or the plan's for a plan
    diff: str | None = None
    before: str | None = None  # a value's state, for people (files have a diff instead)
    after: str | None = None
    started: str | None = None
    finished: str | None = None


@dataclass(frozen=True)
class Report:
    kind: str  # apply | rollback | plan
    title: str
    playbook: str
    source: str
    digest: str
    operator: str
    change_id: str | None
    servers: list[str]
    status: str
    started: str | None = None
    finished: str | None = None
    run_id: str | None = None
    rolls_back: str | None = None
    rolled_back_by: str | None = None
    failure: str | None = None
    preflight: list[ServerCheck] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    handlers: list[str] = field(default_factory=list)
    notice: str | None = None


def _value(kind: str, state: bytes | None) -> str | None:
    """A non-file state as people read it (a property's values); None for files."""
    if state is None or kind in ("xml_token", "xml_attribute"):
        return None
    try:
        value = json.loads(state.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return f"({len(state)} bytes)"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "(empty)"
    return "(empty)" if value is None else str(value)


def _preflight(entries: list[dict[str, Any]]) -> list[ServerCheck]:
    return [
        ServerCheck(
            entry["server"],
            entry.get("build"),
            [Check(c["check"], c.get("problem"), c.get("applies", True)) for c in entry["checks"]],
        )
        for entry in entries
    ]


def of_run(state_dir: Path, run_id: str) -> Report:
    """A run as the journal has it: its steps with diffs or values, outcome, timings, handlers."""
    from remediate.app.history import one
    from remediate.support.xmledit import unified_diff

    run, rows, _ = one(state_dir, run_id)
    outcome = run.report or {}
    said = {step["seq"]: step for step in outcome.get("steps", [])}
    undoing = run.kind == "rollback"
    steps = []
    for row in rows:
        old, new = (row.after_state, row.before_state) if undoing else (row.before_state, row.after_state)
        diff = row.diff
        if undoing and diff is None and old is not None and new is not None and row.kind.startswith("xml"):
            diff = unified_diff(old, new, row.target.rsplit("\\", 1)[-1]) or None
        steps.append(
            Step(
                seq=row.seq,
                server=row.server,
                step=row.step,
                target=row.target,
                summary=row.summary,
                status=str(said.get(row.seq, {}).get("status") or row.status),
                message=str(said.get(row.seq, {}).get("message") or row.error or ""),
                diff=diff,
                before=_value(row.kind, old),
                after=_value(row.kind, new),
                started=row.started,
                finished=row.finished,
            )
        )
    failure = outcome.get("failure")
    return Report(
        kind=run.kind,
        title=f"{'Rollback' if undoing else 'Change'} {run.id}: {run.playbook}",
        playbook=run.playbook,
        source=run.playbook_source,
        digest=run.playbook_digest,
        operator=run.operator,
        change_id=run.change_id,
        servers=list(run.hosts.get("servers", {})) or list(run.hosts.get("given", [])),
        status=str(run.status),
        started=run.started,
        finished=run.finished,
        run_id=run.id,
        rolls_back=run.rolls_back,
        rolled_back_by=run.rolled_back_by,
        failure=f"{failure['reference']}: {failure['message']}" if failure else None,
        preflight=_preflight(outcome.get("preflight", [])),
        steps=steps,
        handlers=list(outcome.get("handlers", [])),
    )


def of_saved_plan(path: Path) -> Report:
    """A saved plan, before approval: what it would change, on which servers, its preflight."""
    from remediate.app.applying import load_saved

    saved = load_saved(path, None, None)
    plan = saved.plan
    steps = [
        Step(
            seq=index,
            server=change.server or (plan.organization_via or ""),
            step=change.step,
            target=change.target or "",
            summary=change.summary,
            status=change.action,
            message="",
            diff=change.diff,
            before=None if change.diff else _shown(change.before),
            after=None if change.diff else _shown(change.after),
        )
        for index, change in enumerate(plan.all_changes(), start=1)
    ]
    return Report(
        kind="plan",
        title=f"Plan {path.name} (sha256 {saved.digest[:12]}): {plan.playbook}",
        playbook=plan.playbook,
        source=plan.source,
        digest=plan.digest,
        operator="-",
        change_id=saved.change_id,
        servers=[server.server for server in plan.servers],
        status=f"{plan.to_change} to change, {plan.unchanged} unchanged, {plan.errors} errors",
        started=saved.created,
        preflight=[
            ServerCheck(s.server, s.build, [Check(c.label, c.problem, c.applies) for c in s.checks])
            for s in plan.servers
        ],
        steps=steps,
        handlers=[f"{s.server}: {h.name}: {'; '.join(h.commands)}" for s in plan.servers for h in s.handlers],
        notice=plan.notice,
    )


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "(empty)"
    return str(value)
