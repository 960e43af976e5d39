"""The plan: what a playbook would change, per server and step, with before and after.

A plan is data. `--dry-run` prints it and stops; applying (a later step) executes exactly it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Literal

from remediate.kinds.preconditions import Check
from remediate.kinds.resources import Scope
from remediate.support.errors import RemediateError

Action = Literal["change", "none", "error"]


@dataclass(frozen=True)
class Problem:
    reference: str
    message: str
    hint: str | None

    @classmethod
    def of(cls, error: RemediateError) -> Problem:
        return cls(error.reference, error.message, error.hint)


@dataclass(frozen=True)
class Change:
    """One planned change to one target: everything applying it and undoing it needs, with no
    look-up back into the playbook (the step's settings travel with it)."""

    step: str
    kind: str
    scope: Scope
    action: Action
    summary: str
    server: str = ""  # the server it is made through (for organization steps: the plan's `via`)
    settings: dict[str, Any] = field(default_factory=dict, compare=False)  # the step's, as written
    target: str | None = None
    before: Any = None
    after: Any = None
    diff: str | None = None
    fingerprint: str | None = None
    notify: tuple[str, ...] = ()
    problem: Problem | None = None
    # which remediate run last changed the target, from the servers' records (for people)
    last_change: str | None = field(default=None, compare=False)
    # The target's exact state when planned, and the exact state applying writes: not shown.
    before_state: bytes = field(default=b"", repr=False, compare=False)
    after_state: bytes = field(default=b"", repr=False, compare=False)


@dataclass(frozen=True)
class HandlerSpec:
    """A handler of the playbook, as applying (and a rollback weeks later) runs it."""

    name: str
    kind: str
    settings: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "settings": self.settings}


@dataclass(frozen=True)
class HandlerRun:
    name: str
    commands: tuple[str, ...]
    because: tuple[str, ...]  # the steps that notified it


@dataclass(frozen=True)
class ServerPlan:
    server: str
    endpoint: str
    changes: tuple[Change, ...] = ()
    handlers: tuple[HandlerRun, ...] = ()
    problem: Problem | None = None  # the server could not be planned at all
    build: str | None = None
    checks: tuple[Check, ...] = ()  # preflight: the playbook's preconditions on this server
    # nothing to change here, but a remediate run holds the server: it may still change or roll
    # back, so "no change" is not final
    locked_by: str | None = None
    # the variables whose values here differ from the plan's (the inventory's per server or group)
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    playbook: str
    source: str
    digest: str
    notice: str | None
    servers: tuple[ServerPlan, ...]
    organization: tuple[Change, ...] = ()
    organization_via: str | None = None
    organization_problem: Problem | None = None
    handlers: tuple[HandlerSpec, ...] = ()  # every handler of the playbook, notified or not
    steps: tuple[str, ...] = ()  # the playbook's step names, in its order: the order of applying
    text: str = ""  # the playbook's text, for the records on the servers (not in to_dict)
    variables: dict[str, Any] = field(default_factory=dict, compare=False)  # the values its steps got

    def all_changes(self) -> list[Change]:
        return [*(c for s in self.servers for c in s.changes), *self.organization]

    @property
    def to_change(self) -> int:
        return sum(1 for c in self.all_changes() if c.action == "change")

    @property
    def unchanged(self) -> int:
        return sum(1 for c in self.all_changes() if c.action == "none")

    @property
    def errors(self) -> int:
        server_problems = sum(1 for s in self.servers if s.problem)
        return (
            sum(1 for c in self.all_changes() if c.action == "error")
            + server_problems
            + bool(self.organization_problem)
        )

    def problems(self) -> list[Problem]:
        """Every problem the plan found: a server's, a step's, the organization's."""
        found = [s.problem for s in self.servers if s.problem is not None]
        found += [c.problem for c in self.all_changes() if c.problem is not None]
        return found + ([self.organization_problem] if self.organization_problem is not None else [])

    def to_dict(self) -> dict[str, Any]:
        def change(c: Change) -> dict[str, Any]:
            return {
                "step": c.step,
                "kind": c.kind,
                "settings": c.settings,
                "scope": c.scope,
                "action": c.action,
                "summary": c.summary,
                "target": c.target,
                "before": _jsonable(c.before),
                "after": _jsonable(c.after),
                "diff": c.diff,
                "fingerprint": c.fingerprint,
                "notify": list(c.notify),
                "problem": problem(c.problem),
                "last_change": c.last_change,
            }

        def problem(p: Problem | None) -> dict[str, Any] | None:
            return None if p is None else {"reference": p.reference, "message": p.message, "hint": p.hint}

        return {
            "playbook": self.playbook,
            "source": self.source,
            "digest": self.digest,
            "notice": self.notice,
            "servers": [
                {
                    "server": s.server,
                    "endpoint": s.endpoint,
                    "build": s.build,
                    "preflight": [
                        {"check": c.label, "problem": c.problem, "applies": c.applies} for c in s.checks
                    ],
                    "problem": problem(s.problem),
                    "locked_by": s.locked_by,
                    "variables": dict(s.variables),
                    "changes": [change(c) for c in s.changes],
                    "handlers": [
                        {"name": h.name, "commands": list(h.commands), "because": list(h.because)}
                        for h in s.handlers
                    ],
                }
                for s in self.servers
            ],
            "organization": {
                "via": self.organization_via,
                "problem": problem(self.organization_problem),
                "changes": [change(c) for c in self.organization],
            },
            "handlers": {h.name: h.to_dict() for h in self.handlers},
            "steps": list(self.steps),
            "variables": dict(self.variables),
            "summary": {"change": self.to_change, "unchanged": self.unchanged, "errors": self.errors},
        }


def _problem(data: dict[str, Any] | None) -> Problem | None:
    return None if data is None else Problem(data["reference"], data["message"], data.get("hint"))


def plan_from_dict(data: dict[str, Any], states: list[dict[str, Any]]) -> Plan:
    """A plan from `Plan.to_dict`, with the exact states to write (`states`: a saved plan's)."""
    written = {
        (row["server"], row["step"], row["target"]): base64.b64decode(row["after_state"])
        for row in states
        if row["after_state"] is not None
    }

    def change(server: str | None, raw: dict[str, Any]) -> Change:
        return Change(
            step=raw["step"],
            kind=raw["kind"],
            server=server or "",
            settings=raw.get("settings", {}),
            scope=raw["scope"],
            action=raw["action"],
            summary=raw["summary"],
            target=raw["target"],
            before=raw["before"],
            after=raw["after"],
            diff=raw["diff"],
            fingerprint=raw["fingerprint"],
            notify=tuple(raw["notify"]),
            problem=_problem(raw["problem"]),
            last_change=raw.get("last_change"),
            after_state=written.get((server, raw["step"], raw["target"]), b""),
        )

    servers = tuple(
        ServerPlan(
            server=s["server"],
            endpoint=s["endpoint"],
            changes=tuple(change(s["server"], c) for c in s["changes"]),
            handlers=tuple(
                HandlerRun(h["name"], tuple(h["commands"]), tuple(h["because"])) for h in s["handlers"]
            ),
            problem=_problem(s["problem"]),
            build=s["build"],
            checks=tuple(
                Check(c["check"], c["problem"], applies=c.get("applies", True))
                for c in s.get("preflight", [])
            ),
            variables=dict(s.get("variables") or {}),
        )
        for s in data["servers"]
    )
    organization = data["organization"]
    return Plan(
        playbook=data["playbook"],
        source=data["source"],
        digest=data["digest"],
        notice=data["notice"],
        servers=servers,
        organization=tuple(change(organization["via"], c) for c in organization["changes"]),
        organization_via=organization["via"],
        organization_problem=_problem(organization["problem"]),
        handlers=tuple(
            HandlerSpec(name, h["kind"], h["settings"]) for name, h in data.get("handlers", {}).items()
        ),
        steps=tuple(data.get("steps", ())),
        variables=dict(data.get("variables") or {}),
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"bytes": len(value)}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value
