"""Locks: one apply or rollback at a time per server, and per organization-wide object.

A server's lock is a file on the server; the organization's is an RBAC management scope. Each
is created in one step that fails if it exists, and says who holds it (run, operator, since,
workstation, process), so that another run can tell whether the holder is provably dead.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from remediate.support.clock import now
from remediate.support.errors import RemediateError
from remediate.winrm.reader import ServerReader
from remediate.winrm.writer import ServerWriter

LOCK_PATH = "%ProgramData%\\remediate.lock"
ORG_LOCK = "remediate-organization-lock"  # an RBAC management scope: the organization's lock


def _holder(text: str | None) -> dict[str, Any]:
    try:
        found = json.loads(text or "")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def claim(run_id: str, operator: str) -> str:
    """What the lock file says: the run, who, since when, and where it runs (host and process),
    so that another run can tell whether the holder is provably dead."""
    return json.dumps(
        {
            "run": run_id,
            "operator": operator,
            "since": now(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }
    )


Liveness = Callable[[dict[str, Any]], "bool | None"]  # True alive, False provably dead, None: cannot tell


@dataclass(frozen=True)
class Place:
    """Where a lock lives, and how to claim, read and drop it there."""

    holder: str  # what is locked, for people: a server, or "the organization"
    where: str  # the lock itself: a file's path, or a management scope
    create: Callable[[str], bool]  # write the claim, unless a lock exists (then False)
    read: Callable[[], str | None]  # the claim there now (None: no lock)
    remove: Callable[[], None]


def server_lock(remote: ServerReader, writer: ServerWriter) -> Place:
    """A file on the server, created with New-Item without -Force: the check and the claim are
    one step on the server."""
    path = remote.expand(LOCK_PATH)
    return Place(
        remote.name,
        path,
        create=lambda text: writer.create_exclusive(path, text),
        read=lambda: remote.read_text(path),
        remove=lambda: writer.remove_file(path),
    )


def organization_lock(remote: ServerReader, writer: ServerWriter) -> Place:
    """Taken through `remote`'s Exchange session before writing an organization-wide object
    (the partner application), which runs on any servers share: an unused RBAC management scope
    named ORG_LOCK whose recipient filter holds the claim. New-ManagementScope fails if it
    exists, and every server sees the same AD."""
    return Place(
        "the organization",
        f"management scope {ORG_LOCK}",
        create=lambda text: writer.create_scope(ORG_LOCK, _as_filter(text)),
        read=lambda: _from_filter(remote.scope_filter(ORG_LOCK)),
        remove=lambda: writer.remove_scope(ORG_LOCK),
    )


def acquire(
    place: Place,
    run_id: str,
    operator: str,
    *,
    takeover: frozenset[str] = frozenset(),
    break_lock: str | None = None,
    alive: Liveness = lambda holder: None,
) -> None:
    """Claim `place` for `run_id`.

    `takeover`: runs whose locks we may replace (the run a rollback undoes, its dead rollbacks).
    `break_lock`: "dead" breaks a lock whose holder is provably dead (`alive` says False); a run
    id breaks that run's lock (the operator vouches that it is dead: a lock from another
    workstation, whose process remediate cannot see)."""
    mine = claim(run_id, operator)
    if place.create(mine):
        return
    holder = _holder(place.read())
    living = alive(holder) if holder.get("run") else None
    holder_run = holder.get("run")
    vouched = break_lock is not None and break_lock == holder_run
    if holder_run in takeover or vouched or (break_lock == "dead" and living is False):
        place.remove()
        if place.create(mine):
            return
        holder = _holder(place.read())
        living = alive(holder) if holder.get("run") else None
    raise _locked(place.holder, place.where, holder, living, break_lock)


def release(place: Place, run_id: str) -> bool:
    """Remove the lock if it is still ours; False (and untouched) if it names another run: someone
    broke ours and another run holds it now."""
    if _holder(place.read()).get("run") != run_id:
        return False
    place.remove()
    return True


def _as_filter(text: str) -> str:
    """The claim as an OPATH recipient filter that matches nobody (a scope no role uses)."""
    return "Name -eq '" + text.replace("'", "''") + "'"


def _from_filter(recipient_filter: str | None) -> str | None:
    if recipient_filter is None:
        return None
    found = re.search(r"-eq\s+'((?:[^']|'')*)'", recipient_filter)
    return found.group(1).replace("''", "'") if found else ""


def _locked(
    server: str, path: str, holder: dict[str, Any], living: bool | None, break_lock: str | None
) -> RemediateError:
    run = holder.get("run", "?")
    where = f", {holder['host']} pid {holder.get('pid', '?')}" if holder.get("host") else ""
    message = (
        f"{server} is locked by run {run} ({holder.get('operator', 'unknown')}{where}, "
        f"since {holder.get('since', '?')}): {path}"
    )
    if not holder.get("run"):
        hint = "the lock names no run: if no remediate run is in progress, remove it by hand"
    elif living:
        hint = "that run is still in progress: wait for it to finish (--break-lock never breaks a live run)"
    elif living is None and break_lock is not None:
        hint = (
            f"remediate cannot tell from here whether run {run} is still running (it is not in this journal, "
            f"or ran on another machine): if you are sure it is not, pass --break-lock {run}"
        )
    else:
        hint = (
            "wait for that run to finish; if it died, `remediate runs` shows it as interrupted: roll it back, "
            "or break the lock with --break-lock"
        )
    return RemediateError("server-locked", message, hint)


class LockReader(Protocol):
    """What reading a server's lock needs (a ServerReader, or a test's in-memory server)."""

    def expand(self, path: str) -> str: ...

    def read_text(self, path: str) -> str | None: ...


def held_by_run(remote: LockReader) -> str | None:
    """The run that holds the server's lock; None if nobody (or a lock that names no run)."""
    holder = _holder(remote.read_text(remote.expand(LOCK_PATH)))
    run = holder.get("run")
    return str(run) if run else None


def held_by(remote: LockReader) -> str | None:
    """Who holds the server's lock, for people ("run X (operator, since ...)"); None if nobody."""
    text = remote.read_text(remote.expand(LOCK_PATH))  # reads only: no ServerWriter needed
    if text is None:
        return None
    holder = _holder(text)
    return f"run {holder.get('run', '?')} ({holder.get('operator', 'unknown')}, since {holder.get('since', '?')})"
