"""The run journal: what every apply and rollback did, durable before it is done.

SQLite (standard library) in WAL mode with synchronous=FULL: a run's row, and each step's
snapshot, are committed before the write they protect, so a crash at any point leaves
enough to roll back. A step keeps everything a rollback needs, weeks later and without the
playbook: the resource kind and its settings, the target, the exact state before and the
exact state written. No secrets are stored.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import socket
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remediate.engine.journal_schema import MIGRATIONS, SCHEMA, SCHEMA_VERSION
from remediate.engine.serialized import Serialized
from remediate.model.status import ACTIVE, RunStatus, StepStatus
from remediate.support.clock import now
from remediate.support.errors import RemediateError
from remediate.support.statedir import private_dir

if TYPE_CHECKING:
    from remediate.engine.steps import Item
    from remediate.model.record import RecordStep, RunRecord

RECORDED = "recorded on the server"  # an event: a server holds the run's record (engine.recording)


def new_run_id() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def operator(username: str | None = None) -> str:
    local = f"{getpass.getuser()}@{socket.gethostname()}"
    return f"{local} as {username}" if username else local


def _alive(pid: int, machine: str) -> bool:
    if machine != socket.gethostname():
        return True  # cannot tell from here: assume it is
    return process_alive(pid)


def process_alive(pid: int) -> bool:
    """Whether a process of this machine exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class StepRow:
    seq: int
    server: str
    step: str
    kind: str
    scope: str
    spec: dict[str, Any]
    target: str
    summary: str
    diff: str | None
    notify: list[str]
    status: str
    before_state: bytes | None
    after_state: bytes | None
    before_digest: str | None
    after_digest: str | None
    backup: str | None
    error: str | None
    started: str | None
    finished: str | None


@dataclass(frozen=True)
class RunRow:
    id: str
    kind: str
    playbook: str
    playbook_source: str
    playbook_digest: str
    operator: str
    change_id: str | None
    hosts: dict[str, Any]
    connection: dict[str, Any]
    stored_status: str
    rolls_back: str | None
    rolled_back_by: str | None
    started: str
    finished: str | None
    pid: int
    machine: str
    report: dict[str, Any] | None
    handlers: dict[str, Any]  # name -> {kind, settings}
    origin: str | None = None  # None: run from this journal; "servers": taken in from their records

    @property
    def status(self) -> RunStatus:
        status = RunStatus(self.stored_status)
        if status in ACTIVE and not _alive(self.pid, self.machine):
            return RunStatus.INTERRUPTED
        return status


class Journal:
    def __init__(self, path: Path) -> None:
        private_dir(path.parent)
        self.path = path
        self._db = Serialized(sqlite3.connect(path, isolation_level=None, check_same_thread=False))
        os.chmod(path, 0o600)  # also an existing journal whose mode was loosened
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()
        for suffix in ("-wal", "-shm"):
            sidecar = path.with_name(path.name + suffix)
            if sidecar.exists():
                os.chmod(sidecar, 0o600)

    def _migrate(self) -> None:
        """Create the tables, or bring an earlier version's up to SCHEMA_VERSION."""
        tables = self._db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'runs'").fetchone()[0]
        if not tables:  # a new journal (two processes doing this at once make the same tables)
            self._db.executescript(
                f"BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            )
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            version = self._db.execute("PRAGMA user_version").fetchone()[0] or 1
            if version > SCHEMA_VERSION:
                raise RemediateError(
                    "journal-too-new",
                    f"{self.path} was written by a newer remediate (journal version {version}; this one "
                    f"knows up to {SCHEMA_VERSION})",
                    "use that version of remediate (a journal is never downgraded)",
                )
            while version < SCHEMA_VERSION:
                for statement in MIGRATIONS[version]:
                    self._db.execute(statement)
                version += 1
            self._db.execute(f"PRAGMA user_version = {int(version)}")

    @property
    def version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @classmethod
    def open(cls, state_dir: Path) -> Journal:
        return cls(state_dir / "journal.sqlite3")

    def close(self) -> None:
        self._db.close()

    def _write(self, sql: str, parameters: tuple[Any, ...]) -> None:
        """One statement, committed (durably: WAL + synchronous=FULL) before returning."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(sql, parameters)

    # -- runs --------------------------------------------------------------------------------

    def start_run(
        self,
        *,
        kind: str,
        playbook: str,
        source: str,
        digest: str,
        operator: str,
        change_id: str | None,
        hosts: dict[str, Any],
        connection: dict[str, Any],
        handlers: dict[str, Any] | None = None,
        rolls_back: str | None = None,
    ) -> str:
        run_id = new_run_id()
        self._write(
            "INSERT INTO runs (id, kind, playbook, playbook_source, playbook_digest, operator, change_id, hosts,"
            " connection, status, rolls_back, started, pid, machine, handlers)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                run_id,
                kind,
                playbook,
                source,
                digest,
                operator,
                change_id,
                json.dumps(hosts),
                json.dumps(connection),
                RunStatus.RUNNING,
                rolls_back,
                now(),
                os.getpid(),
                socket.gethostname(),
                json.dumps(handlers or {}),
            ),
        )
        return run_id

    def finish_run(self, run_id: str, status: RunStatus, report: dict[str, Any]) -> None:
        self._write(
            "UPDATE runs SET status = ?, finished = ?, report = ? WHERE id = ?",
            (status, now(), json.dumps(report), run_id),
        )

    def mark_rolled_back(self, run_id: str, by: str) -> None:
        self._write("UPDATE runs SET rolled_back_by = ? WHERE id = ?", (by, run_id))

    def event(self, run_id: str, server: str | None, message: str) -> None:
        self._write(
            "INSERT INTO events (run_id, time, server, message) VALUES (?,?,?,?)",
            (run_id, now(), server, message),
        )

    def take_in(
        self, record: RunRecord, status: str, steps: list[tuple[RecordStep, bytes, bytes]], servers: list[str]
    ) -> None:
        """A run made on another workstation, as its records on the servers tell it (with the
        exact states of its steps), in one transaction: to roll it back from here."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO runs (id, kind, playbook, playbook_source, playbook_digest, operator, change_id, hosts,"
                " connection, status, started, finished, pid, machine, handlers, origin)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,'servers')",
                (
                    record.run,
                    record.kind,
                    record.playbook.name,
                    record.playbook.source,
                    record.playbook.digest,
                    record.operator,
                    record.change_id,
                    json.dumps(record.hosts),
                    json.dumps(record.connection),
                    status,
                    record.started,
                    record.finished,
                    record.pid,
                    record.workstation,
                    json.dumps(record.handlers),
                ),
            )
            for step, before, after in steps:
                self._db.execute(
                    "INSERT INTO steps (run_id, seq, server, step, kind, scope, spec, target, summary, notify,"
                    " status, before_state, after_state, before_digest, after_digest, backup)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        record.run,
                        step.seq,
                        step.server,
                        step.step,
                        step.kind,
                        step.scope,
                        json.dumps(step.settings),
                        step.target,
                        step.summary,
                        json.dumps(step.notify),
                        step.status,
                        before,
                        after,
                        step.before_digest,
                        step.after_digest,
                        step.before,
                    ),
                )
            for server in servers:
                self._db.execute(
                    "INSERT INTO events (run_id, time, server, message) VALUES (?,?,?,?)",
                    (record.run, now(), server, RECORDED),
                )

    # -- steps ---------------------------------------------------------------------------------

    def add_step(self, run_id: str, item: Item) -> None:
        """A step of the run, whole (status planned): all a rollback needs, weeks later."""
        self._write(
            "INSERT INTO steps (run_id, seq, server, step, kind, scope, spec, target, summary, diff, notify, status)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                run_id,
                item.seq,
                item.server,
                item.step,
                item.kind,
                item.scope,
                json.dumps(item.settings()),
                item.target,
                item.summary,
                item.diff,
                json.dumps(item.notify),
                StepStatus.PLANNED,
            ),
        )

    def update_step(self, run_id: str, seq: int, **fields: Any) -> None:
        allowed = {
            "status",
            "before_state",
            "after_state",
            "before_digest",
            "after_digest",
            "backup",
            "error",
            "started",
            "finished",
        }
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"not step fields: {sorted(unknown)}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self._write(
            f"UPDATE steps SET {assignments} WHERE run_id = ? AND seq = ?", (*fields.values(), run_id, seq)
        )

    # -- reading -----------------------------------------------------------------------------------

    def runs(self, limit: int = 20) -> list[RunRow]:
        rows = self._db.execute("SELECT * FROM runs ORDER BY rowid DESC LIMIT ?", (limit,)).fetchall()
        return [self._run(row) for row in rows]

    def run(self, run_id: str) -> RunRow:
        row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise RemediateError(
                "run-not-found", f"no run {run_id!r} in {self.path}", "`remediate runs` lists the runs"
            )
        return self._run(row)

    def steps(self, run_id: str) -> list[StepRow]:
        rows = self._db.execute("SELECT * FROM steps WHERE run_id = ? ORDER BY seq", (run_id,)).fetchall()
        columns = [c[0] for c in self._db.execute("SELECT * FROM steps LIMIT 0").description]
        result = []
        for row in rows:
            data = dict(zip(columns, row, strict=True))
            data.pop("run_id")
            data["spec"] = json.loads(data["spec"])
            data["notify"] = json.loads(data["notify"])
            result.append(StepRow(**data))
        return result

    def rollbacks_of(self, run_id: str) -> list[RunRow]:
        """The rollback runs started for `run_id`, oldest first (finished, failed or dead)."""
        rows = self._db.execute(
            "SELECT * FROM runs WHERE rolls_back = ? ORDER BY rowid", (run_id,)
        ).fetchall()
        return [self._run(row) for row in rows]

    def events(self, run_id: str) -> list[tuple[str, str | None, str]]:
        return list(
            self._db.execute(
                "SELECT time, server, message FROM events WHERE run_id = ? ORDER BY rowid", (run_id,)
            )
        )

    def _run(self, row: tuple[Any, ...]) -> RunRow:
        columns = [c[0] for c in self._db.execute("SELECT * FROM runs LIMIT 0").description]
        data = dict(zip(columns, row, strict=True))
        data["stored_status"] = data.pop("status")
        data["hosts"] = json.loads(data["hosts"])
        data["connection"] = json.loads(data["connection"])
        data["report"] = json.loads(data["report"]) if data["report"] else None
        data["handlers"] = json.loads(data["handlers"]) if data["handlers"] else {}
        return RunRow(**data)
