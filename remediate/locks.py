"""One apply or rollback at a time per server: a lock file on the server itself.

The lock is created with `New-Item` without -Force, which fails if the file exists: the
check and the claim are one step on the server. The file says who holds it.
"""

from __future__ import annotations

import json

from remediate.changer import Changer
from remediate.errors import RemediateError
from remediate.journal import now
from remediate.remote import Remote

LOCK_PATH = "%ProgramData%\\remediate.lock"


def _holder(text: str | None) -> dict[str, str]:
    try:
        found = json.loads(text or "")
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def acquire(
    remote: Remote,
    changer: Changer,
    run_id: str,
    operator: str,
    *,
    takeover: frozenset[str] = frozenset(),
    force: bool = False,
) -> str:
    """Claim the server for `run_id`; the lock's path. `takeover`: runs whose locks we may replace."""
    path = remote.expand(LOCK_PATH)
    claim = json.dumps({"run": run_id, "operator": operator, "since": now()})
    if changer.create_exclusive(path, claim):
        return path
    holder = _holder(changer.read_text(path))
    if force or holder.get("run") in takeover:
        changer.remove_file(path)
        if changer.create_exclusive(path, claim):
            return path
        holder = _holder(changer.read_text(path))
    raise RemediateError(
        "server-locked",
        f"{remote.name} is locked by run {holder.get('run', '?')} ({holder.get('operator', 'unknown')}, "
        f"since {holder.get('since', '?')}): {path}",
        "wait for that run to finish; if it died, `remediate runs` shows it as interrupted: roll it back, "
        "or break the lock with --break-lock",
    )


def release(changer: Changer, path: str) -> None:
    changer.remove_file(path)
