"""One thread per server (`--forks`): the journal shared by them, the waits overlapping, the
first failure raised only once every started action has ended (issue 18)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from remediate.engine.execution import each
from remediate.engine.journal import Journal
from remediate.sim import CmdletDelay
from remediate.support.errors import RemediateError
from tests.test_apply import apply, last_run
from tests.test_journal import start_apply


def test_the_journal_takes_transactions_from_many_threads(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    run = start_apply(journal)

    def write(server: int) -> None:
        for index in range(40):
            journal.event(run, f"ex{server:02}", f"event {index}")

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = journal.events(run)
    assert len(events) == 8 * 40
    for server in range(8):  # each thread's events in its own order
        mine = [message for _, name, message in events if name == f"ex{server:02}"]
        assert mine == [f"event {index}" for index in range(40)]


def test_each_waits_for_every_started_action_before_raising() -> None:
    finished: list[str] = []

    def action(name: str) -> str:
        if name == "ex01":
            raise RemediateError("write-failed", "ex01 failed", None)
        time.sleep(0.3)
        finished.append(name)
        return name

    with pytest.raises(RemediateError, match="ex01 failed"):
        each(4, ["ex01", "ex02", "ex03"], action, lambda *_: None)
    assert sorted(finished) == ["ex02", "ex03"]  # they ended before the failure was raised
    assert each(4, ["a", "b", "c"], str.upper, lambda *_: None) == ["A", "B", "C"]  # in order


def _restarts(sim: Any) -> list[dt.datetime]:
    return sorted(
        dt.datetime.fromisoformat(record.time)
        for record in sim.audit_records()
        if record.command == "Restart-Service"
    )


def _three_held_2s(ends: list[dt.datetime], forks: str) -> None:
    """Three servers' commands, each held 2 s, ended (sorted): together with --forks 3, one
    after another with --forks 1."""
    assert len(ends) == 3
    spread = (ends[-1] - ends[0]).total_seconds()
    if forks == "3":
        assert spread < 1.5, ends
    else:
        assert spread >= 3.5, ends


@pytest.mark.parametrize("forks", ["3", "1"])
def test_the_servers_of_a_batch_restart_at_once_up_to_forks(
    start_sim: Any, tmp_path: Path, forks: str
) -> None:
    """Each Restart-Service is held 2 s: with --forks 3 the three servers' restarts overlap
    (they end together); with --forks 1 they follow one another."""
    sim = start_sim(servers=3, restart_seconds=0)
    for server in ("ex01", "ex02", "ex03"):
        sim.inject(CmdletDelay(server=server, cmdlet="Restart-Service", seconds=2, times=0))
    result = apply(sim, tmp_path, "--forks", forks)
    assert result.exit_code == 0, result.output
    _three_held_2s(_restarts(sim), forks)
    assert last_run(tmp_path)["status"] == "succeeded"


def test_killed_while_every_server_of_a_batch_is_mid_write(start_sim: Any, tmp_path: Path) -> None:
    """Attack: SIGKILL while three servers are each between Move-Item's delete and rename of the
    same step (one wave, at once): `rollback` finishes every one exactly."""
    import signal

    from tests.test_apply import apply_in_background, fingerprint, host_args, rollback

    sim = start_sim(servers=3, restart_seconds=0)
    original = fingerprint(sim)
    for server in ("ex01", "ex02", "ex03"):
        sim.inject(
            CmdletDelay(
                server=server, cmdlet="Move-Item", argument="rest\\web.config", when="midway", seconds=60
            )
        )
    process = apply_in_background(sim, tmp_path, *host_args(sim), "--serial", "0")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and sum(1 for f in sim.faults.active() if f.fired) < 3:
        time.sleep(0.05)
    assert sum(1 for f in sim.faults.active() if f.fired) == 3  # all three mid-write at once
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=20)
    sim.clear_faults()
    run = last_run(tmp_path)
    assert run["status"] == "interrupted"
    result = rollback(sim, tmp_path, run["id"])
    assert result.exit_code == 0, result.output
    assert fingerprint(sim) == original


@pytest.mark.parametrize("forks", ["3", "1"])
def test_a_rollback_restores_the_servers_at_once_up_to_forks(
    start_sim: Any, tmp_path: Path, forks: str
) -> None:
    """Each restoring Move-Item is held 2 s: with --forks 3 the three servers' restores overlap;
    with --forks 1 they follow one another. Each server still restores its own steps last first."""
    from tests.test_apply import fingerprint, rollback

    sim = start_sim(servers=3, restart_seconds=0)
    original = fingerprint(sim)
    assert apply(sim, tmp_path).exit_code == 0
    run = last_run(tmp_path)["id"]
    before = len(sim.audit_records())
    for server in ("ex01", "ex02", "ex03"):
        sim.inject(
            CmdletDelay(server=server, cmdlet="Move-Item", argument="rest\\web.config", seconds=2, times=0)
        )
    result = rollback(sim, tmp_path, run, "--forks", forks)
    assert result.exit_code == 0, result.output
    moves = sorted(
        dt.datetime.fromisoformat(r.time)
        for r in sim.audit_records()[before:]
        if r.command == "Move-Item"
        and any(str(value).endswith("rest\\web.config") for _, value in r.parameters)
    )
    _three_held_2s(moves, forks)
    assert fingerprint(sim) == original
