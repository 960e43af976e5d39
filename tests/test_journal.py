"""The journal: durable, owner-only, secret-free, and honest about interrupted runs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from remediate.cli import main
from remediate.engine.journal import SCHEMA_VERSION, Journal
from remediate.model.status import RunStatus
from remediate.support.errors import RemediateError


def start_apply(journal: Journal) -> str:
    """A run with placeholder details: the tests here are about the journal itself."""
    return journal.start_run(
        kind="apply",
        playbook="p",
        source="s",
        digest="d",
        operator="o",
        change_id=None,
        hosts={},
        connection={},
    )


def test_journal_files_are_owner_only_and_in_wal_mode(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path / "state")
    start_apply(journal)
    path = tmp_path / "state" / "journal.sqlite3"
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    journal.close()


def test_a_run_whose_process_died_is_interrupted(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path)
    run = start_apply(journal)
    assert journal.run(run).status == "running"  # this process is alive
    journal._write("UPDATE runs SET pid = ? WHERE id = ?", (2**22 + 12345, run))
    assert journal.run(run).status == "interrupted"
    journal.close()


def test_no_secret_reaches_the_journal(start_sim: Any, tmp_path: Path) -> None:
    from remediate.sim import Scenario
    from remediate.sim.scenario import Credential

    secret = "Journal-Secret-Passw0rd!"
    sim = start_sim(Scenario(credentials=[Credential(username="admin", password=secret)]), restart_seconds=0)
    endpoint = sim.servers["ex01"]
    state = tmp_path / "remediate"  # remediate's own state; the simulated server keeps its accounts elsewhere
    env = {"REMEDIATE_USERNAME": sim.username, "REMEDIATE_PASSWORD": secret}
    args = [
        "--state-dir",
        str(state),
        "--log-file",
        str(state / "log.json"),
        "-vv",
        "apply",
        "app-only-graph",
        "--host",
        f"127.0.0.1:{endpoint.port}",
        "--ca-file",
        str(sim.ca_file),
        "--yes",
    ]
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 0, result.output
    run = CliRunner().invoke(main, ["--state-dir", str(state), "runs", "--output", "json"], env=env).output
    run_id = run.split('"id": "')[1].split('"')[0]
    assert (
        CliRunner().invoke(main, ["--state-dir", str(state), "rollback", run_id, "--yes"], env=env).exit_code
        == 0
    )
    assert (state / "journal.sqlite3").exists() and (state / "log.json").stat().st_size > 0
    for path in state.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    assert secret not in result.output


# -- schema versions -----------------------------------------------------------------------------------

V1_SCHEMA = Path(__file__).parent / "data" / "journal-v1.sql"


def _as_version_1(path: Path) -> None:
    """Rewrite the journal at `path` as the version before versions were recorded wrote it:
    the old tables (tests/data/journal-v1.sql), handlers kept under hosts["handlers"], a failed
    rollback's status "incomplete", user_version 0."""
    new = sqlite3.connect(path)
    runs = [
        dict(zip([c[0] for c in new.execute("SELECT * FROM runs LIMIT 0").description], row, strict=True))
        for row in new.execute("SELECT * FROM runs")
    ]
    steps = new.execute("SELECT * FROM steps").fetchall()
    events = new.execute("SELECT * FROM events").fetchall()
    new.close()
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    old = sqlite3.connect(path)
    old.executescript(V1_SCHEMA.read_text())
    for run in runs:
        handlers = json.loads(run.pop("handlers") or "{}")
        run.pop("origin")
        run["hosts"] = json.dumps({**json.loads(run["hosts"]), "handlers": handlers})
        if run["status"] == "rollback-incomplete":
            run["status"] = "incomplete"
        old.execute(
            f"INSERT INTO runs ({', '.join(run)}) VALUES ({', '.join('?' * len(run))})", tuple(run.values())
        )
    if steps:
        old.executemany(f"INSERT INTO steps VALUES ({', '.join('?' * len(steps[0]))})", steps)
    old.executemany("INSERT INTO events VALUES (?,?,?,?)", events)
    old.commit()
    assert old.execute("PRAGMA user_version").fetchone()[0] == 0
    assert "handlers" not in [c[1] for c in old.execute("PRAGMA table_info(runs)")]
    old.close()


def test_a_new_journal_records_its_schema_version(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path)
    assert journal.version == SCHEMA_VERSION
    journal.close()
    assert sqlite3.connect(tmp_path / "journal.sqlite3").execute("PRAGMA user_version").fetchone()[0] == 3


def test_a_journal_of_the_previous_version_still_rolls_back_exactly(start_sim: Any, tmp_path: Path) -> None:
    """Rollback "weeks later": a run journaled by the version before schema versions, rolled
    back by this one, restores the exact bytes and values and runs the run's handlers."""
    from tests.test_apply import apply, fingerprint, last_run, rollback

    sim = start_sim(servers=2, restart_seconds=0)
    original = fingerprint(sim)
    assert apply(sim, tmp_path).exit_code == 0
    run = last_run(tmp_path)
    _as_version_1(tmp_path / "journal.sqlite3")
    sim.audit_records()  # what the apply did is not what is asserted below
    before = len([r for r in sim.audit_records() if r.command == "Restart-Service"])

    undone = rollback(sim, tmp_path, run["id"])
    assert undone.exit_code == 0, undone.output
    assert fingerprint(sim) == original
    restarts = [r for r in sim.audit_records() if r.command == "Restart-Service"]
    assert len(restarts) == before + 2  # the handlers came from hosts["handlers"], migrated
    migrated = sqlite3.connect(tmp_path / "journal.sqlite3")
    assert migrated.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    handlers = json.loads(
        migrated.execute("SELECT handlers FROM runs WHERE id = ?", (run["id"],)).fetchone()[0]
    )
    assert handlers == {"restart-iis": {"kind": "restart_iis", "settings": {}}}


def test_migration_renames_the_old_incomplete_status(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path)
    run = start_apply(journal)
    journal._write("UPDATE runs SET status = 'rollback-incomplete', pid = 1 WHERE id = ?", (run,))
    journal.close()
    _as_version_1(tmp_path / "journal.sqlite3")
    assert (
        sqlite3.connect(tmp_path / "journal.sqlite3").execute("SELECT status FROM runs").fetchone()[0]
        == "incomplete"
    )
    reopened = Journal.open(tmp_path)
    assert reopened.run(run).status == RunStatus.ROLLBACK_INCOMPLETE
    reopened.close()


def test_a_journal_of_a_newer_version_is_refused_untouched(tmp_path: Path) -> None:
    Journal.open(tmp_path).close()
    path = tmp_path / "journal.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(RemediateError) as raised:
        Journal.open(tmp_path)
    assert raised.value.reference == "journal-too-new"
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
