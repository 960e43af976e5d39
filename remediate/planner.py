"""Read, then decide: the plan for a playbook on a set of servers. Nothing here writes.

Server-scope steps are decided on every server; organization-scope steps once, through the
first server that could be read. A handler runs on a server when a step there notified it,
or when an organization-scope step did (Exchange caches organization settings per server).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from remediate.errors import RemediateError
from remediate.handlers import HANDLER_KINDS
from remediate.plan import Change, HandlerRun, Plan, Problem, ServerPlan
from remediate.playbook import LoadedPlaybook, Playbook
from remediate.remote import Remote
from remediate.resources import Overlay


def decide_step(step: Any, reader: Overlay) -> Change:
    base = {"step": step.name, "kind": step.kind, "scope": step.effective_scope, "notify": tuple(step.notify)}
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


def _preflight(playbook: Playbook, remote: Remote) -> str | None:
    build = None
    for precondition in playbook.preconditions:
        failure = precondition.failure(remote)
        if failure:
            raise RemediateError(
                "precondition-failed",
                f"{remote.name} {failure}",
                "upgrade the server, or leave it out of this run",
            )
        build = remote.exchange_build()
    return build


def _handlers(playbook: Playbook, notified: dict[str, list[str]]) -> tuple[HandlerRun, ...]:
    runs = []
    for handler in playbook.handlers:
        if handler.name in notified:
            kind = HANDLER_KINDS[handler.kind]
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


def make_plan(loaded: LoadedPlaybook, remotes: Sequence[Remote]) -> Plan:
    playbook = loaded.playbook
    server_steps = [s for s in playbook.steps if s.effective_scope == "server"]
    organization_steps = [s for s in playbook.steps if s.effective_scope == "organization"]
    drafts: list[tuple[Remote, ServerPlan]] = []
    for remote in remotes:
        endpoint = remote.session.endpoint
        try:
            remote.session.connect()
            build = _preflight(playbook, remote)
        except RemediateError as error:
            drafts.append((remote, ServerPlan(remote.name, endpoint, problem=Problem.of(error))))
            continue
        overlay = Overlay(remote)
        changes = tuple(decide_step(step, overlay) for step in server_steps)
        drafts.append((remote, ServerPlan(remote.name, endpoint, changes, build=build)))

    organization: tuple[Change, ...] = ()
    via = next((remote for remote, draft in drafts if draft.problem is None), None)
    organization_problem = None
    if organization_steps:
        if via is None:
            organization_problem = Problem(
                "no-server-for-organization",
                "no server could be read, so organization-wide steps were not planned",
                "fix the server errors above",
            )
        else:
            overlay = Overlay(via)
            organization = tuple(decide_step(step, overlay) for step in organization_steps)
    from_organization = _notified(organization)

    servers = []
    for _remote, draft in drafts:
        if draft.problem is not None:
            servers.append(draft)
            continue
        notified = _notified(draft.changes)
        for name, steps in from_organization.items():
            notified.setdefault(name, []).extend(steps)
        servers.append(
            ServerPlan(
                draft.server, draft.endpoint, draft.changes, _handlers(playbook, notified), build=draft.build
            )
        )
    return Plan(
        playbook=playbook.name,
        source=loaded.source,
        digest=loaded.digest,
        notice=playbook.notice,
        servers=tuple(servers),
        organization=organization,
        organization_via=via.name if via is not None and organization_steps else None,
        organization_problem=organization_problem,
    )
