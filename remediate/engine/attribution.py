"""The plan's "last changed by": for each target, the run that last changed it, from the
servers' records (newest first, each server's read until its targets are found; the servers
at once), like a mitigation status."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING

from remediate.engine.execution import DEFAULT_FORKS
from remediate.engine.remote import changed, per_server, read, store
from remediate.model.plan import Change, Plan
from remediate.model.record import RunRecord
from remediate.support.errors import RemediateError

if TYPE_CHECKING:
    from remediate.winrm.session import Session


def attribute(plan: Plan, sessions: dict[str, Session], forks: int = DEFAULT_FORKS) -> Plan:
    """The plan, each target saying which run last changed it (from the servers' records,
    newest first, read until every target of the server is found), like a mitigation status."""
    found: dict[tuple[str, str], str] = {}  # (server or "" for the organization, target) -> text
    newest_org: dict[str, tuple[str, str, str]] = {}  # target -> (started, run id, text), newest found
    wanted_org = {c.target.lower() for c in plan.organization if c.target}
    plans = {s.server: s for s in plan.servers if s.server in sessions and s.problem is None}
    lock = threading.Lock()

    def settled(run_id: str) -> bool:
        """Every organization target was changed by a run that started a second or more after
        `run_id` (run ids begin with their start, to the second): an older record on any server
        cannot be the latest for it."""
        with lock:
            return all(t in newest_org and newest_org[t][1][:15] > run_id[:15] for t in wanted_org)

    def server_history(name: str, session: Session) -> None:
        """This server's records, newest first, until each of its targets is found (the servers
        at once: organization targets are found on whichever server the run went through)."""
        wanted = {c.target.lower() for c in plans[name].changes if c.target and c.scope == "server"}
        try:
            place = store(session)
            for run_id in reversed(place.run_ids()):
                if not wanted and settled(run_id):
                    break
                record = read(place, name, run_id)
                if record is None:
                    continue
                for step in record.steps:
                    if not changed(record, step.status):
                        continue
                    target = step.target.lower()
                    if step.scope == "server" and target in wanted:
                        found[(name, target)] = _by(record)
                        wanted.discard(target)
                    elif step.scope == "organization" and target in wanted_org:
                        newest = (record.started, run_id, _by(record))
                        with lock:
                            if target not in newest_org or newest[:2] > newest_org[target][:2]:
                                newest_org[target] = newest
        except RemediateError as error:
            for target in wanted:
                found[(name, target)] = f"cannot tell: {error.message}"

    per_server({name: sessions[name] for name in plans}, server_history, forks)
    for target, (_, _, text) in newest_org.items():
        found[("", target)] = text

    def with_history(change: Change, where: str) -> Change:
        text = found.get((where, (change.target or "").lower()))
        return replace(change, last_change=text) if text else change

    servers = tuple(
        replace(s, changes=tuple(with_history(c, s.server) for c in s.changes)) for s in plan.servers
    )
    organization = tuple(with_history(c, "") for c in plan.organization)
    return replace(plan, servers=servers, organization=organization)


def _by(record: RunRecord) -> str:
    what = "rollback" if record.kind == "rollback" else "apply"
    when = record.finished or record.started
    change = f", change {record.change_id}" if record.change_id else ""
    return f"run {record.run} ({what} of {record.playbook.name} by {record.operator} on {record.workstation}, {when}{change})"
