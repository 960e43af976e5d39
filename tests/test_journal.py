"""The journal: durable, owner-only, secret-free, and honest about interrupted runs."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from remediate.cli import main
from remediate.engine.journal import Journal


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
