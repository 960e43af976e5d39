"""One apply or rollback at a time per server: a lock file on the server itself.

The lock is created with `New-Item` without -Force, which fails if the file exists: the
check and the claim are one step on the server. The file says who holds it.
"""

from __future__ import annotations

import json
import os
import re
import socket
from collections.abc import Callable
from typing import Any

from remediate.changer import Changer
from remediate.errors import RemediateError
from remediate.journal import now
from remediate.remote import Remote

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


def acquire(
    remote: Remote,
    changer: Changer,
    run_id: str,
    operator: str,
    *,
    takeover: frozenset[str] = frozenset(),
    break_lock: str | None = None,
    alive: Liveness = lambda holder: None,
) -> str:
    """Claim the server for `run_id`; the lock's path.

    `takeover`: runs whose locks we may replace (the run a rollback undoes, its dead rollbacks).
    `break_lock`: "dead" breaks a lock whose holder is provably dead (`alive` says False); a run
    id breaks that run's lock (the operator vouches that it is dead: a lock from another
    workstation, whose process remediate cannot see)."""
    path = remote.expand(LOCK_PATH)
    _take(
        create=lambda text: changer.create_exclusive(path, text),
        read=lambda: remote.read_text(path),
        remove=lambda: changer.remove_file(path),
        mine=claim(run_id, operator),
        takeover=takeover,
        break_lock=break_lock,
        alive=alive,
        what=(remote.name, path),
    )
    return path


def acquire_organization(
    remote: Remote,
    changer: Changer,
    run_id: str,
    operator: str,
    *,
    takeover: frozenset[str] = frozenset(),
    break_lock: str | None = None,
    alive: Liveness = lambda holder: None,
) -> None:
    """Claim the organization for `run_id`, through `remote`'s Exchange session: before writing
    an organization-wide object (the partner application), which runs on any servers share.
    The lock is an unused RBAC management scope named ORG_LOCK, whose recipient filter holds
    the claim: New-ManagementScope fails if it exists, and every server sees the same AD."""
    _take(
        create=lambda text: changer.create_scope(ORG_LOCK, _as_filter(text)),
        read=lambda: _from_filter(remote.scope_filter(ORG_LOCK)),
        remove=lambda: changer.remove_scope(ORG_LOCK),
        mine=claim(run_id, operator),
        takeover=takeover,
        break_lock=break_lock,
        alive=alive,
        what=("the organization", f"management scope {ORG_LOCK}"),
    )


def _take(
    *,
    create: Callable[[str], bool],
    read: Callable[[], str | None],
    remove: Callable[[], None],
    mine: str,
    takeover: frozenset[str],
    break_lock: str | None,
    alive: Liveness,
    what: tuple[str, str],
) -> None:
    if create(mine):
        return
    holder = _holder(read())
    living = alive(holder) if holder.get("run") else None
    holder_run = holder.get("run")
    vouched = break_lock is not None and break_lock == holder_run
    if holder_run in takeover or vouched or (break_lock == "dead" and living is False):
        remove()
        if create(mine):
            return
        holder = _holder(read())
        living = alive(holder) if holder.get("run") else None
    raise _locked(what[0], what[1], holder, living, break_lock)


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
        hint = "the lock names no run: if no remediate run is in progress on this server, remove the file by hand"
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


def release_organization(remote: Remote, changer: Changer, run_id: str) -> bool:
    """Remove the organization lock if it is still ours (see `release`)."""
    if _holder(_from_filter(remote.scope_filter(ORG_LOCK))).get("run") != run_id:
        return False
    changer.remove_scope(ORG_LOCK)
    return True


def release(remote: Remote, changer: Changer, path: str, run_id: str) -> bool:
    """Remove the lock if it is still ours; False (and untouched) if it names another run: someone
    broke ours and another run holds the server now."""
    if _holder(remote.read_text(path)).get("run") != run_id:
        return False
    changer.remove_file(path)
    return True


def held_by(remote: Remote) -> str | None:
    """Who holds the server's lock, for people ("run X (operator, since ...)"); None if nobody."""
    text = remote.read_text(remote.expand(LOCK_PATH))
    if text is None:
        return None
    holder = _holder(text)
    return f"run {holder.get('run', '?')} ({holder.get('operator', 'unknown')}, since {holder.get('since', '?')})"
