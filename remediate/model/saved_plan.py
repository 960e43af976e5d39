"""Saved plans: the plan a change board reviewed, applied exactly, or not at all.

A plan file is JSON: the plan as people review it, the playbook it was made from (its text
and digest), the servers and how to reach them (the username, never a password), the change
id, the tool version, and for every target a fingerprint of its state when planned plus the exact state applying writes.
`remediate apply FILE` refuses the file if it was edited (its digest), if it was made by
another version, or if any target's state no longer matches its fingerprint: a stale plan.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from remediate import __version__
from remediate.model.plan import Plan, plan_from_dict
from remediate.model.playbook import LoadedPlaybook, parse
from remediate.model.variables import as_texts
from remediate.support.clock import now
from remediate.support.errors import RemediateError

FORMAT = "remediate-plan/1"
REPLAN = "make a new plan (`remediate plan ... --out`), have it reviewed, and apply that"


def _digest(data: dict[str, Any]) -> str:
    canonical = json.dumps(
        {k: v for k, v in data.items() if k != "digest"}, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _states(plan: Plan) -> list[dict[str, Any]]:
    rows = []
    for server, changes in [(s.server, s.changes) for s in plan.servers] + [
        (plan.organization_via, plan.organization)
    ]:
        for change in changes:
            rows.append(
                {
                    "server": server,
                    "step": change.step,
                    "target": change.target,
                    "action": change.action,
                    "fingerprint": change.fingerprint,
                    "after_state": base64.b64encode(change.after_state).decode()
                    if change.action == "change"
                    else None,
                }
            )
    return rows


def save(
    path: Path,
    plan: Plan,
    loaded: LoadedPlaybook,
    hosts: dict[str, Any],
    connection: dict[str, Any],
    change_id: str | None = None,
) -> str:
    """Write the plan file (owner-only); its digest, for the change ticket (--expect-digest)."""
    data: dict[str, Any] = {
        "format": FORMAT,
        "tool_version": __version__,
        "created": now(),
        "change_id": change_id,
        "playbook": {
            "name": loaded.name,
            "source": loaded.source,
            "digest": loaded.digest,
            "text": loaded.text.decode("utf-8"),
            # the values its variables were given: deriving the plan again needs them
            "variables": as_texts(loaded.variables),
            # a server's own values (the inventory's per server or group)
            "server_variables": {s.server: as_texts(s.variables) for s in plan.servers if s.variables},
        },
        "hosts": hosts,
        "connection": connection,
        "plan": plan.to_dict(),
        "states": _states(plan),
    }
    data["digest"] = _digest(data)
    from remediate.support.statedir import write_private

    write_private(path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))  # owner-only
    return str(data["digest"])


@dataclass(frozen=True)
class SavedPlan:
    path: Path
    plan: Plan
    playbook: LoadedPlaybook
    hosts: dict[str, Any]
    connection: dict[str, Any]
    created: str
    change_id: str | None = None
    digest: str = ""  # of the content that was read and checked: what --expect-digest compares
    own: dict[str, LoadedPlaybook] = field(default_factory=dict)  # servers with their own values


# A plan holds each server's exact states (files up to 1 MiB each, twice): 256 MiB is room for
# a large organization, and a bound on what a crafted file can make remediate read.
MAX_PLAN_BYTES = 256 * 1024 * 1024


def load(path: Path) -> SavedPlan:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_PLAN_BYTES + 1)
        if len(raw) > MAX_PLAN_BYTES:
            raise RemediateError(
                "plan-invalid", f"{path} is larger than {MAX_PLAN_BYTES} bytes: not a remediate plan", REPLAN
            )
        data = json.loads(raw.decode("utf-8"))
    except OSError as error:
        raise RemediateError(
            "plan-unreadable", f"cannot read {path}: {error.strerror}", "check the path"
        ) from None
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise RemediateError(
            "plan-invalid", f"{path} is not a remediate plan (not JSON: {error})", REPLAN
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RemediateError("plan-invalid", f"{path} is not a remediate plan ({FORMAT})", REPLAN)
    if data.get("digest") != _digest(data):
        raise RemediateError(
            "plan-tampered",
            f"{path} was changed after it was made: its digest does not match its content",
            REPLAN,
        )
    if data.get("tool_version") != __version__:
        raise RemediateError(
            "plan-version",
            f"{path} was made by remediate {data.get('tool_version')}; this is remediate {__version__}",
            REPLAN,
        )
    recorded = data["playbook"]
    playbook = parse(recorded["text"].encode("utf-8"), recorded["source"], recorded.get("variables") or {})
    if playbook.digest != recorded["digest"]:
        raise RemediateError(
            "plan-tampered", f"{path}: the playbook it carries does not match its digest", REPLAN
        )
    plan = plan_from_dict(data["plan"], data["states"])
    variables = recorded.get("variables") or {}
    own = {
        server: parse(recorded["text"].encode("utf-8"), recorded["source"], {**variables, **values})
        for server, values in (recorded.get("server_variables") or {}).items()
    }
    return SavedPlan(
        path,
        plan,
        playbook,
        data["hosts"],
        data["connection"],
        data.get("created", "?"),
        data.get("change_id"),
        data["digest"],
        own,
    )
