"""Rollbacks that are themselves stopped (issue 12, items 1, 5, 6).

Every status between "snapshot durable" and "confirmed back to the snapshot" counts as possibly
written: a rollback stopped half-way (the automatic one inside apply, or `remediate rollback`)
leaves something `remediate rollback RUN` finishes exactly, taking over the locks the dead
rollback left, removing its temporary files and finishing the handlers it began.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from remediate.cli import main
from remediate.sim import CmdletDelay, RestartFailure, Simulator
from remediate.sim.faults import FaultBook
from remediate.sim.store import Store
from tests.lab import LAB
from tests.test_crash import run_and_kill, state_of

TARGET = "rest\\web.config"  # in a fault: only calls naming the target (not remediate's records)

ROLLBACK_DELAY = 60


def cli(state: Path, *args: str) -> Any:
    return CliRunner().invoke(main, ["--state-dir", str(state), *args])


def seeded(tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    state, sim_state = tmp_path / "state", tmp_path / "state" / "sim"
    with Simulator(sim_state, restart_seconds=0, authentication=LAB):
        pass
    return state, sim_state, state_of(sim_state)


def services(sim_state: Path) -> dict[str, str]:
    _, servers = Store(sim_state).load()
    return {s["name"]: s["status"] for s in servers["ex01"].services() if s["name"] in ("W3SVC", "WAS")}


def delay_fired(delay_cmdlet: str) -> Any:
    return lambda faults: any(f.fired for f in faults if getattr(f, "cmdlet", None) == delay_cmdlet)


def runs(state: Path) -> list[dict[str, Any]]:
    return json.loads(cli(state, "runs", "--output", "json").output)["runs"]  # type: ignore[no-any-return]


# Inside apply's automatic rollback, each cmdlet's second call is the rollback's (the first was
# the apply's): it undoes the partner application, then web.config, then restarts IIS again.
AUTOMATIC_ROLLBACK_KILL_POINTS = {
    "before the partner application is restored": CmdletDelay(cmdlet="Set-PartnerApplication", nth=2),
    "after the partner application is restored": CmdletDelay(
        cmdlet="Set-PartnerApplication", nth=2, when="after"
    ),
    "before web.config's copy is written": CmdletDelay(cmdlet="Set-Content", argument=TARGET, nth=2),
    "between Move-Item's delete and rename": CmdletDelay(
        cmdlet="Move-Item", argument=TARGET, nth=2, when="midway"
    ),
    "after web.config is replaced": CmdletDelay(cmdlet="Move-Item", argument=TARGET, nth=2, when="after"),
    # the apply's record brought up to date after its rollback: between its delete and rename
    "while the record says how the batch ended": CmdletDelay(
        cmdlet="Move-Item", argument="record.json", nth=2, when="midway"
    ),
    "during the second IIS restart": CmdletDelay(cmdlet="Restart-Service", nth=2),
}


@pytest.mark.parametrize(
    "point", list(AUTOMATIC_ROLLBACK_KILL_POINTS.values()), ids=list(AUTOMATIC_ROLLBACK_KILL_POINTS)
)
def test_a_kill_during_the_automatic_rollback_is_finished_by_rollback(
    tmp_path: Path, point: CmdletDelay
) -> None:
    # IIS does not come back after the apply's restart, so apply rolls back, and is killed there
    # (W3SVC left stopped).
    state, sim_state, original = seeded(tmp_path)
    book = FaultBook(sim_state / "faults.json")
    book.add(RestartFailure(service="W3SVC"))
    book.add(point.model_copy(update={"seconds": ROLLBACK_DELAY}))
    run_and_kill(state, sim_state, until=delay_fired(point.cmdlet))
    [run] = runs(state)
    assert run["status"] == "interrupted"

    result = cli(state, "rollback", run["id"], "--yes", "--health-timeout", "5")
    assert result.exit_code == 0, result.output
    assert state_of(sim_state) == original  # web.config, the partner application, no .tmp, no lock
    assert services(sim_state) == {"W3SVC": "Running", "WAS": "Running"}


def test_a_killed_rollback_is_finished_by_the_next_one(tmp_path: Path) -> None:
    # apply succeeds; its rollback is killed between Move-Item's delete and rename (the
    # second Move-Item: the first was apply's), leaving no web.config, its lock and its .tmp.
    state, sim_state, original = seeded(tmp_path)
    assert cli(state, "apply", "app-only-graph", "--host", "sim", "--yes").exit_code == 0
    [applied] = runs(state)
    FaultBook(sim_state / "faults.json").add(
        CmdletDelay(cmdlet="Move-Item", argument=TARGET, nth=1, when="midway", seconds=ROLLBACK_DELAY)
    )
    run_and_kill(state, sim_state, "rollback", applied["id"], "--yes", until=delay_fired("Move-Item"))
    killed = state_of(sim_state)
    assert killed["web.config"] is None and killed["tmp"]  # the gap, and the dead rollback's file

    preview = cli(state, "rollback", applied["id"], "--dry-run")
    assert "missing: would recreate it from the snapshot" in preview.output, preview.output
    result = cli(state, "rollback", applied["id"], "--yes", "--health-timeout", "5")
    assert result.exit_code == 0, result.output  # not "locked by" the dead rollback
    assert state_of(sim_state) == original
    with Simulator(sim_state, authentication=LAB) as sim:
        assert not sim.state("ex01").exists(
            sim.machine("ex01").path("C:\\ProgramData\\remediate.lock", "C:\\")
        )
    latest = runs(state)
    assert latest[0]["kind"] == "rollback" and latest[0]["status"] == "succeeded"
    assert latest[1]["status"] == "interrupted"  # the dead rollback, as it was


def test_a_deleted_target_is_restored_from_the_journal(start_sim: Any, tmp_path: Path) -> None:
    from tests.test_apply import WEB_CONFIG, apply, fingerprint, last_run, rollback

    sim = start_sim(servers=1, restart_seconds=0)
    original = fingerprint(sim)
    assert apply(sim, tmp_path).exit_code == 0
    with sim.state("ex01").lock:  # someone deletes it after the run
        sim.state("ex01").remove(sim.machine("ex01").path(WEB_CONFIG, "C:\\"))
    result = rollback(sim, tmp_path, last_run(tmp_path)["id"], "--force")
    assert result.exit_code == 0, result.output
    assert "recreated from the snapshot (it was missing)" in result.output
    assert fingerprint(sim) == original


def test_what_a_dead_client_left_running_is_stopped_before_the_rollback_reads(
    start_sim: Any, tmp_path: Path
) -> None:
    # The server outlives the client: apply is killed while the server still runs its
    # Set-PartnerApplication (slow, 4 s). A rollback at once must not read "already as before"
    # and let the write land afterwards.
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.test_apply import app_only, credentials, fingerprint, host_args

    sim = start_sim(servers=1, restart_seconds=0)
    original = fingerprint(sim)
    sim.inject(CmdletDelay(server="ex01", cmdlet="Set-PartnerApplication", when="before", seconds=4.0))
    state = tmp_path / "state"
    process = subprocess.Popen(
        [sys.executable, "-m", "remediate", "--state-dir", str(state), "apply", "app-only-graph"]
        + [*host_args(sim), "--yes"],
        env={**os.environ, **credentials(sim)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not [f for f in sim.faults.active() if f.fired]:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    [run] = runs(state)
    result = CliRunner().invoke(
        main,
        ["--state-dir", str(state), "rollback", run["id"], "--yes", "--health-timeout", "5"],
        env=credentials(sim),
    )
    assert result.exit_code == 0, result.output
    assert "stopped shell" in result.output
    time.sleep(5)  # past the moment the write would have landed
    assert app_only(sim) == original["app_only"]
    assert fingerprint(sim) == original


ROLLBACK_KILL_POINTS = {
    # the rollback undoes in reverse: the partner application first, then web.config, then handlers
    "before the partner application is restored": CmdletDelay(cmdlet="Set-PartnerApplication", when="before"),
    "after the partner application is restored": CmdletDelay(cmdlet="Set-PartnerApplication", when="after"),
    "while the rollback's record is written": CmdletDelay(cmdlet="Set-Content", argument="record.json"),
    "before web.config's copy is written": CmdletDelay(cmdlet="Set-Content", argument=TARGET, when="before"),
    "between Move-Item's delete and rename": CmdletDelay(cmdlet="Move-Item", argument=TARGET, when="midway"),
    "after web.config is replaced": CmdletDelay(cmdlet="Move-Item", argument=TARGET, when="after"),
    "while the undone run's record is marked": CmdletDelay(
        cmdlet="Move-Item", argument="record.json", nth=3, when="midway"
    ),
    "during the IIS restart": CmdletDelay(cmdlet="Restart-Service", when="before"),
}


@pytest.mark.parametrize("point", list(ROLLBACK_KILL_POINTS.values()), ids=list(ROLLBACK_KILL_POINTS))
def test_a_rollback_killed_at_any_step_is_finished_by_the_next(tmp_path: Path, point: CmdletDelay) -> None:
    state, sim_state, original = seeded(tmp_path)
    assert cli(state, "apply", "app-only-graph", "--host", "sim", "--yes").exit_code == 0
    [applied] = runs(state)
    FaultBook(sim_state / "faults.json").add(point.model_copy(update={"seconds": ROLLBACK_DELAY}))
    run_and_kill(state, sim_state, "rollback", applied["id"], "--yes", until=delay_fired(point.cmdlet))
    result = cli(state, "rollback", applied["id"], "--yes", "--health-timeout", "5")
    assert result.exit_code == 0, result.output
    assert state_of(sim_state) == original
    assert services(sim_state) == {"W3SVC": "Running", "WAS": "Running"}
    with Simulator(sim_state, authentication=LAB) as sim:
        assert not sim.state("ex01").exists(
            sim.machine("ex01").path("C:\\ProgramData\\remediate.lock", "C:\\")
        )
    assert runs(state)[0]["status"] == "succeeded"


RANDOM_KILLS = 4  # per command; REMEDIATE_KILL_SEED picks other moments


def kill_after(state: Path, seconds: float, *command: str) -> None:
    """Run remediate (`--host sim`: its simulator dies with it) and SIGKILL it after `seconds`."""
    import os
    import signal
    import subprocess
    import sys
    import time

    process = subprocess.Popen(
        [sys.executable, "-m", "remediate", "--state-dir", str(state), *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    time.sleep(seconds)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)


def finish(state: Path, run_id: str) -> Any:
    return cli(state, "rollback", run_id, "--yes", "--health-timeout", "5")


@pytest.mark.parametrize("target", ["apply", "rollback"])
def test_kills_at_random_moments_are_recovered_exactly(tmp_path: Path, target: str) -> None:
    import os
    import random

    seed = int(os.environ.get("REMEDIATE_KILL_SEED", "20261129"))
    moments = random.Random(f"{seed}-{target}")
    for attempt in range(RANDOM_KILLS):
        state, sim_state, original = seeded(tmp_path / f"{attempt}")
        delay = round(moments.uniform(0.3, 2.5), 2)
        where = f"seed {seed}, {target} killed after {delay}s"
        if target == "apply":
            kill_after(state, delay, "apply", "app-only-graph", "--host", "sim", "--yes")
        else:
            assert cli(state, "apply", "app-only-graph", "--host", "sim", "--yes").exit_code == 0
            kill_after(state, delay, "rollback", runs(state)[0]["id"], "--yes")
        applied = [run for run in runs(state) if run["kind"] == "apply"]
        if applied:  # killed before the run was even journaled: nothing was touched
            result = finish(state, applied[0]["id"])
            done = result.exit_code == 0 or any(
                reason in result.output for reason in ("nothing-to-roll-back", "already-rolled-back")
            )
            assert done, f"{where}: {result.output}"
        assert state_of(sim_state) == original, where
        assert services(sim_state) == {"W3SVC": "Running", "WAS": "Running"}, where
        with Simulator(sim_state, authentication=LAB) as sim:
            lock = sim.machine("ex01").path("C:\\ProgramData\\remediate.lock", "C:\\")
            assert not sim.state("ex01").exists(lock), where
