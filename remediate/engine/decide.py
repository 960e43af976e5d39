"""Read, then decide: the plan for a playbook on a set of servers. Nothing here writes.

Server-scope steps are decided on every server; organization-scope steps once, through the
first server that could be read. A handler runs on a server when a step there notified it,
or when an organization-scope step did (Exchange caches organization settings per server).
"""

from __future__ import annotations

import concurrent.futures
import contextvars
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol

from remediate.kinds.handlers import REGISTRY as HANDLERS
from remediate.kinds.preconditions import REGISTRY as PRECONDITION_KINDS
from remediate.kinds.preconditions import Check, PreflightReader
from remediate.kinds.resources import Overlay, Reader
from remediate.model.plan import Change, HandlerRun, HandlerSpec, Plan, Problem, ServerPlan
from remediate.model.playbook import LoadedPlaybook, Playbook
from remediate.model.saved_plan import REPLAN, SavedPlan
from remediate.support.errors import RemediateError


class PlanReader(Reader, PreflightReader, Protocol):
    """What planning reads from one server (`winrm.PlanReader`, or a test's in-memory one)."""

    @property
    def name(self) -> str: ...

    @property
    def endpoint(self) -> str: ...

    def connect(self) -> None: ...

    def read_text(self, path: str) -> str | None: ...

    def exchange_access(self) -> None: ...


def decide_step(step: Any, reader: Overlay, server: str) -> Change:
    base = {
        "step": step.name,
        "kind": step.kind,
        "scope": step.effective_scope,
        "notify": tuple(step.notify),
        "server": server,
        "settings": step.settings.model_dump(exclude_unset=True),
    }
    try:
        observed = step.resource.observe(step.settings, reader)
        decision = step.resource.decide(step.settings, observed)
    except RemediateError as error:
        return Change(**base, action="error", summary=error.message, problem=Problem.of(error))
    if decision.changed:
        step.resource.remember(step.settings, decision, reader)
    return Change(
        **base,
        action="change" if decision.changed else "none",
        summary=decision.summary,
        target=decision.target,
        before=decision.before,
        after=decision.after,
        diff=decision.diff,
        fingerprint=decision.fingerprint,
        before_state=decision.before_state,
        after_state=decision.after_state,
    )


def _preflight(
    playbook: Playbook, remote: PlanReader
) -> tuple[str | None, tuple[Check, ...], Problem | None]:
    """Every precondition on this server: the build, the checks, and the problem if one failed."""
    if not playbook.preconditions:
        return None, (), None
    build = remote.exchange_build()
    checks = tuple(precondition.check(remote, remote.name) for precondition in playbook.preconditions)
    failed = [(c, p) for c, p in zip(checks, playbook.preconditions, strict=True) if c.problem]
    if not failed:
        return build, checks, None
    problems = "; ".join(check.problem or "" for check, _ in failed)
    return build, checks, Problem("precondition-failed", f"{remote.name} {problems}", failed[0][1].hint)


def _compare_across(
    playbook: Playbook, drafts: list[tuple[PlanReader, ServerPlan]]
) -> list[tuple[PlanReader, ServerPlan]]:
    """Preconditions that must agree across the run's servers: each server whose observed values
    differ from the most common ones (the first server's, on a tie) fails, naming what differs.
    Servers that could not be read, failed a precondition of their own, or that the precondition
    is not for (a set member's `servers`), are not compared."""
    from remediate.kinds.preconditions import across_servers

    for index, precondition in enumerate(playbook.preconditions):
        kind = PRECONDITION_KINDS[precondition.kind]
        if not across_servers(kind):
            continue
        compared = [
            i
            for i, (_, d) in enumerate(drafts)
            if d.problem is None and len(d.checks) > index and d.checks[index].applies
        ]
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i in compared:
            groups.setdefault(drafts[i][1].checks[index].observed, []).append(i)
        if len(groups) < 2:
            continue
        common = max(groups.values(), key=len)  # the first largest: dicts keep the servers' order
        names = [drafts[i][0].name for i in common]
        reference = drafts[common[0]][1].checks[index]
        for i in compared:
            if i in common:
                continue
            remote, draft = drafts[i]
            mine = draft.checks[index]
            problem = kind.differs(precondition.settings, mine, reference, names)  # type: ignore[attr-defined]
            checks = tuple(
                replace(c, problem=problem) if n == index else c for n, c in enumerate(draft.checks)
            )
            drafts[i] = (
                remote,
                replace(
                    draft,
                    checks=checks,
                    changes=(),
                    problem=Problem("precondition-failed", f"{remote.name} {problem}", precondition.hint),
                ),
            )
    return drafts


def _plan_server(playbook: Playbook, remote: PlanReader) -> ServerPlan:
    server_steps = [s for s in playbook.steps if s.effective_scope == "server" and s.runs_on(remote.name)]
    endpoint = remote.endpoint
    try:
        remote.connect()
        build, checks, problem = _preflight(playbook, remote)
    except RemediateError as error:
        return ServerPlan(remote.name, endpoint, problem=Problem.of(error))
    if problem is not None:
        return ServerPlan(remote.name, endpoint, problem=problem, build=build, checks=checks)
    overlay = Overlay(remote)
    changes = tuple(decide_step(step, overlay, remote.name) for step in server_steps)
    _refuse_conflicts(server_steps, changes, overlay, remote.name)
    locked_by = None
    if not any(change.action == "change" for change in changes):
        # nothing to do here: but is a run in the middle of changing (or rolling back) this server?
        from remediate.engine.locks import held_by

        try:
            locked_by = held_by(remote)
        except RemediateError as error:
            locked_by = f"unknown: the lock could not be read ({error.message})"
    return ServerPlan(remote.name, endpoint, changes, build=build, checks=checks, locked_by=locked_by)


def _refuse_conflicts(steps: Sequence[Any], changes: Sequence[Change], overlay: Overlay, server: str) -> None:
    """Two steps that change one target must agree: each step, decided again on the state the
    plan ends with, must find nothing left to change. Otherwise a later step undid (part of)
    an earlier one's change, and one run cannot give the target both values."""
    writers: dict[str, list[int]] = {}
    for index, change in enumerate(changes):
        if change.action == "change" and change.target:
            writers.setdefault(change.target.lower(), []).append(index)
    for indexes in writers.values():
        for position, index in enumerate(indexes[:-1]):
            if decide_step(steps[index], overlay, server).action != "none":
                later = steps[indexes[position + 1]]
                raise RemediateError(
                    "steps-conflict",
                    f"{server}: steps {steps[index].name!r} and {later.name!r} both change "
                    f"{changes[index].target}, to different values",
                    "one run cannot give a target two values: remove one of the steps (or its "
                    "playbook from the set), or make them agree",
                )


def _check_exchange_access(
    drafts: list[tuple[PlanReader, ServerPlan]],
) -> tuple[list[tuple[PlanReader, ServerPlan]], Problem | None]:
    """Preflight of the Exchange access, through the first server that passed its own: read the
    organization object. A logon that cannot make the snap-in's second hop to Active Directory
    fails here with `exchange-second-hop`, never mid-apply."""
    first = next((index for index, (_, draft) in enumerate(drafts) if draft.problem is None), None)
    if first is None:
        return drafts, None
    remote, draft = drafts[first]
    try:
        remote.exchange_access()
    except RemediateError as error:
        drafts = list(drafts)
        drafts[first] = (remote, replace(draft, changes=(), problem=Problem.of(error)))
        return drafts, Problem.of(error)
    return drafts, None


def _handlers(playbook: Playbook, notified: dict[str, list[str]]) -> tuple[HandlerRun, ...]:
    runs = []
    for handler in playbook.handlers:
        if handler.name in notified:
            kind = HANDLERS[handler.kind]
            runs.append(
                HandlerRun(
                    handler.name, tuple(kind.commands(handler.settings)), tuple(notified[handler.name])
                )
            )
    return tuple(runs)


def _notified(changes: Sequence[Change]) -> dict[str, list[str]]:
    notified: dict[str, list[str]] = {}
    for change in changes:
        if change.action == "change":
            for name in change.notify:
                notified.setdefault(name, []).append(change.step)
    return notified


def _one_shape(loaded: LoadedPlaybook, own: dict[str, LoadedPlaybook]) -> None:
    """A server's own copy of the playbook has the same steps, by name (a step is known by its
    name in the journal and the records); an organization-wide step is decided once, so it
    cannot take a value that differs per server."""
    names = [s.name for s in loaded.playbook.steps]
    wanted = [(s.name, s.settings) for s in loaded.playbook.steps if s.effective_scope == "organization"]
    for server, mine in own.items():
        differs = ", ".join(sorted(_differing(loaded, mine)))
        if [s.name for s in mine.playbook.steps] != names:
            raise RemediateError(
                "variable-per-server",
                f"on {server} {differs} has another value (from the inventory's server or group vars), "
                "which changes a step's name: a step keeps one name on every server",
                "name the step without that variable",
            )
        steps = [(s.name, s.settings) for s in mine.playbook.steps if s.effective_scope == "organization"]
        if steps != wanted:
            step = next(n for (n, a), (_, b) in zip(steps, wanted, strict=True) if a != b)
            raise RemediateError(
                "variable-per-server",
                f"step {step!r} is organization-wide, so it takes one value, but on {server} "
                f"{differs} has another (from the inventory's server or group vars)",
                "give it one value for every server: the inventory's top-level vars:, or --var",
            )


def make_plan(
    loaded: LoadedPlaybook,
    remotes: Sequence[PlanReader],
    parallel: int = 50,
    own: dict[str, LoadedPlaybook] | None = None,
) -> Plan:
    """The plan of `loaded` on `remotes`; a server named in `own` is planned with its own copy of
    the playbook (other values for its variables, from the inventory)."""
    own = own or {}
    _one_shape(loaded, own)
    playbook = loaded.playbook

    organization_steps = [s for s in playbook.steps if s.effective_scope == "organization"]
    # Servers are read concurrently (a bounded pool); results keep the servers' order.
    workers = max(1, min(parallel, len(remotes)))
    with concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="plan") as pool:
        futures = [
            pool.submit(
                contextvars.copy_context().run,
                _plan_server,
                own[remote.name].playbook if remote.name in own else playbook,
                remote,
            )
            for remote in remotes
        ]
        drafts = [(remote, future.result()) for remote, future in zip(remotes, futures, strict=True)]
    drafts = [
        (
            remote,
            replace(draft, variables=_differing(loaded, own[remote.name])) if remote.name in own else draft,
        )
        for remote, draft in drafts
    ]
    drafts = _compare_across(playbook, drafts)

    organization: tuple[Change, ...] = ()
    exchange_problem = None
    if any(step.resource.uses_exchange for step in playbook.steps):
        drafts, exchange_problem = _check_exchange_access(drafts)
    via = next((remote for remote, draft in drafts if draft.problem is None), None)
    organization_problem = None
    if organization_steps:
        if exchange_problem is not None:
            organization_problem, via = exchange_problem, None
        elif via is None:
            organization_problem = Problem(
                "no-server-for-organization",
                "no server could be read or passed preflight, so organization-wide steps were not planned",
                "fix the server errors above",
            )
        else:
            overlay = Overlay(via)
            organization = tuple(decide_step(step, overlay, via.name) for step in organization_steps)
            _refuse_conflicts(organization_steps, organization, overlay, via.name)
    from_organization = _notified(organization)

    servers = []
    for _remote, draft in drafts:
        if draft.problem is not None:
            servers.append(draft)
            continue
        notified = _notified(draft.changes)
        for name, steps in from_organization.items():
            notified.setdefault(name, []).extend(steps)
        servers.append(replace(draft, handlers=_handlers(playbook, notified)))
    return Plan(
        playbook=playbook.name,
        source=loaded.source,
        digest=loaded.digest,
        notice=playbook.notice,
        servers=tuple(servers),
        organization=organization,
        organization_via=via.name if via is not None and organization_steps else None,
        organization_problem=organization_problem,
        handlers=tuple(
            HandlerSpec(h.name, h.kind, h.settings.model_dump(exclude_unset=True)) for h in playbook.handlers
        ),
        steps=tuple(step.name for step in playbook.steps),
        text=_text(loaded.text),
        variables=dict(loaded.variables),
    )


def _differing(loaded: LoadedPlaybook, mine: LoadedPlaybook) -> dict[str, Any]:
    return {k: v for k, v in mine.variables.items() if loaded.variables.get(k) != v}


def _text(content: bytes) -> str:
    """The playbook's text as the records keep it (its digest is of these bytes); none if it is
    not UTF-8."""
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return ""


def derive_again(saved: SavedPlan, readers: dict[str, Any]) -> Plan:
    """The plan to apply, made again from the saved playbook and each target's current state.

    Nothing stored in the file is written as it is: every change is derived again, and must be
    the reviewed one. A target whose state no longer matches its fingerprint makes the plan
    stale (`stale-plan`, naming the servers and targets that moved); a change that derives to
    other bytes than the file says, or that the file does not have, means the file was forged
    (`plan-tampered`). What is shown and applied is the new derivation: the diff of exactly the
    bytes that will be written."""
    remotes = [readers[server.server] for server in saved.plan.servers]
    again = make_plan(saved.playbook, remotes, own=saved.own)
    stored, derived = dict(_changes(saved.plan)), dict(_changes(again))
    moved = [
        f"{key[0]}: {change.target}"
        for key, change in stored.items()
        if change.fingerprint is not None
        and key in derived
        and derived[key].fingerprint != change.fingerprint
    ]
    if moved or again.errors:
        problems = moved or [p.message for p in again.problems()]
        raise RemediateError(
            "stale-plan",
            f"stale plan: changed since {saved.path} was made ({saved.created}): {'; '.join(problems)}",
            "re-plan and re-review: " + REPLAN,
        )
    forged = [
        f"{key[0]}: {key[1]}"
        for key in stored.keys() | derived.keys()
        if key not in stored
        or key not in derived
        or stored[key].action != derived[key].action
        or (derived[key].action == "change" and stored[key].after_state != derived[key].after_state)
    ]
    if forged or again.organization_via != saved.plan.organization_via:
        raise RemediateError(
            "plan-tampered",
            f"{saved.path}: what it says it will write is not what its playbook makes of the servers' "
            f"current state: {'; '.join(forged) or 'the organization step goes through another server'}",
            REPLAN,
        )
    return again


ChangeKey = tuple[str | None, str, str | None]  # server (or the organization's via), step, target


def _changes(plan: Plan) -> list[tuple[ChangeKey, Change]]:
    rows: list[tuple[ChangeKey, Change]] = [
        ((s.server, c.step, c.target), c) for s in plan.servers for c in s.changes
    ]
    rows += [((plan.organization_via, c.step, c.target), c) for c in plan.organization]
    return rows
