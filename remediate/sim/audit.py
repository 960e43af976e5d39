"""What the simulator saw: every cmdlet call, and request counts per server.

The audit trail is kept in memory and appended to `audit.jsonl` in the state directory, so
a test can read it whether the simulator runs in its own process or another. Parameter
values are recorded verbatim (byte arrays as their length and SHA-256): a test can prove
that a hostile value reached the server as a literal and that a dry run wrote nothing.
"""

from __future__ import annotations

import collections
import hashlib
import json
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from remediate.sim.store import now_iso

# Cmdlets that change state on a server or in the organization.
WRITING_CMDLETS = frozenset(
    name.lower()
    for name in (
        "Set-Content",
        "Copy-Item",
        "Move-Item",
        "Remove-Item",
        "New-Item",
        "Restart-Service",
        "Restart-WebAppPool",
        "Set-PartnerApplication",
    )
)


def plain(value: Any) -> Any:
    """A JSON-friendly copy of a parameter value."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": len(value), "sha256": hashlib.sha256(value).hexdigest()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    return str(value)


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    time: str
    server: str
    configuration: str  # Microsoft.PowerShell or Microsoft.Exchange
    user: str
    command: str  # the command as sent (script text when is_script)
    is_script: bool
    parameters: list[list[Any]]  # [name or None, value] in the order sent
    outcome: str  # ok, error (non-terminating), failed (terminating), not-run
    error_id: str | None = None

    @property
    def writes(self) -> bool:
        return self.command.lower() in WRITING_CMDLETS and self.outcome in ("ok", "error")

    def parameter(self, name: str) -> Any:
        for key, value in self.parameters:
            if key is not None and key.lower() == name.lower():
                return value
        raise KeyError(name)


class AuditTrail:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._records: list[AuditRecord] = []
        self._seq = 0

    def add(self, **fields: Any) -> AuditRecord:
        with self._lock:
            self._seq += 1
            record = AuditRecord(seq=self._seq, time=now_iso(), **fields)
            self._records.append(record)
            with open(self._path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(asdict(record), sort_keys=True) + "\n")
            return record

    def records(self, server: str | None = None) -> list[AuditRecord]:
        with self._lock:
            return [r for r in self._records if server is None or r.server.lower() == server.lower()]

    @staticmethod
    def read(path: Path) -> list[AuditRecord]:
        """Read a trail written by a simulator in another process."""
        if not path.exists():
            return []
        lines = path.read_text(encoding="utf-8").splitlines()
        return [AuditRecord(**json.loads(line)) for line in lines if line.strip()]


@dataclass
class ServerCounters:
    connections: int = 0
    http_requests: int = 0
    wsman_requests: int = 0
    auth_failures: int = 0
    actions: collections.Counter[str] = field(default_factory=collections.Counter)

    def snapshot(self) -> dict[str, Any]:
        return {
            "connections": self.connections,
            "http_requests": self.http_requests,
            "wsman_requests": self.wsman_requests,
            "auth_failures": self.auth_failures,
            "actions": dict(self.actions),
        }


class Counters:
    """Per-server request counts, written to `counters.json` on demand and at shutdown."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._servers: dict[str, ServerCounters] = collections.defaultdict(ServerCounters)

    def connection(self, server: str) -> None:
        with self._lock:
            self._servers[server].connections += 1

    def http_request(self, server: str) -> None:
        with self._lock:
            self._servers[server].http_requests += 1

    def auth_failure(self, server: str) -> None:
        with self._lock:
            self._servers[server].auth_failures += 1

    def wsman_request(self, server: str, action: str) -> None:
        with self._lock:
            counters = self._servers[server]
            counters.wsman_requests += 1
            counters.actions[action.rsplit("/", 1)[-1]] += 1

    def snapshot(self, server: str) -> dict[str, Any]:
        with self._lock:
            return self._servers[server].snapshot()

    def reset(self) -> None:
        with self._lock:
            self._servers.clear()

    def flush(self) -> None:
        with self._lock:
            data = {name: counters.snapshot() for name, counters in self._servers.items()}
        self._path.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
