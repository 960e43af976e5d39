"""remediate against a server that answers as Windows PowerShell 5.1 really does (issue 11).

One test per behaviour that made remediate fail on a real host while the suite was green:
1. `Get-Content -Encoding Byte -ReadCount 0` is one object[] of boxed bytes, not a byte[];
2. `Get-Content -Raw` is a string carrying NoteProperties (pypsrp: an object whose str() is "None");
3. `Get-WebAppPoolState -Name` is a scalar String: an array, even of one, fails binding;
4. an app pool an administrator stopped stays stopped after an IIS restart;
5. `Move-Item -Force` onto an existing file deletes it, then renames: two steps.
Each goes through the CLI, pypsrp and real sockets to the simulator, which answers in those shapes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from remediate.sim import CmdletDelay, CmdletError, Scenario, Simulator
from tests.lab import LAB
from tests.test_apply import WEB_CONFIG, apply, cli, credentials, fingerprint, host_args, last_run, rollback
from tests.test_crash import run_and_kill, state_of

REST_POOL = "MSExchangeRestFrontEndAppPool"


@pytest.fixture
def sim(start_sim: Any) -> Simulator:
    return start_sim(servers=1, restart_seconds=0)  # type: ignore[no-any-return]


def reach(sim: Simulator) -> list[str]:
    """How plan and check reach the simulator (host_args less the apply-only --health-timeout)."""
    return host_args(sim)[:-2]


def check(sim: Simulator, state: Path, playbook: str = "app-only-graph") -> int:
    return cli(state, "check", playbook, *reach(sim), env=credentials(sim)).exit_code


def pool(sim: Simulator, name: str, server: str = "ex01") -> dict[str, Any]:
    with sim.state(server).lock:
        return dict(sim.state(server).app_pool(name) or {})


# 1. file content as one object[] of bytes -------------------------------------------------------


def test_plan_apply_check_and_rollback_end_byte_exact(sim: Simulator, tmp_path: Path) -> None:
    original = fingerprint(sim)
    assert cli(tmp_path, "plan", "app-only-graph", *reach(sim), env=credentials(sim)).exit_code == 0
    assert check(sim, tmp_path) == 2
    applied = apply(sim, tmp_path)
    assert applied.exit_code == 0, applied.output
    assert check(sim, tmp_path) == 0
    result = rollback(sim, tmp_path, last_run(tmp_path)["id"])
    assert result.exit_code == 0, result.output
    assert fingerprint(sim) == original


# 2. the lock's text is a string with notes --------------------------------------------------------


def test_a_lock_names_its_holder(sim: Simulator, tmp_path: Path) -> None:
    holder = '{"run": "20261129T101500-0badc0", "operator": "CONTOSO\\\\jdoe", "since": "2026-11-29T10:15:00+00:00"}'
    with sim.state("ex01").lock:
        sim.state("ex01").write(
            sim.machine("ex01").path("C:\\ProgramData\\remediate.lock", "C:\\"), holder.encode()
        )
    result = apply(sim, tmp_path)
    assert result.exit_code == 1
    assert (
        "locked by run 20261129T101500-0badc0 (CONTOSO\\jdoe, since 2026-11-29T10:15:00+00:00)"
        in result.output
    )


def test_the_rollback_of_a_killed_run_takes_over_its_own_lock(tmp_path: Path) -> None:
    state, sim_state = tmp_path / "state", tmp_path / "state" / "sim"
    with Simulator(sim_state, restart_seconds=0, authentication=LAB):
        pass
    original = state_of(sim_state)
    from remediate.sim.faults import FaultBook

    FaultBook(sim_state / "faults.json").add(
        CmdletDelay(cmdlet="Set-PartnerApplication", when="after", seconds=60)
    )
    run_and_kill(state, sim_state)
    assert state_of(sim_state) != original
    [run] = json.loads(cli(state, "runs", "--output", "json").output)["runs"]
    result = cli(state, "rollback", run["id"], "--yes", "--health-timeout", "5")
    assert result.exit_code == 0, result.output  # not "server-locked" by its own run
    assert state_of(sim_state) == original
    with Simulator(sim_state, authentication=LAB) as sim:
        assert not sim.state("ex01").exists(
            sim.machine("ex01").path("C:\\ProgramData\\remediate.lock", "C:\\")
        )


# 3. Get-WebAppPoolState -Name is a scalar -----------------------------------------------------------


def test_rest_v1s2s_profile_applies_and_is_healthy(sim: Simulator, tmp_path: Path) -> None:
    result = apply(sim, tmp_path, playbook="rest-v1s2s-profile")
    assert result.exit_code == 0, result.output
    assert last_run(tmp_path)["status"] == "succeeded"
    assert pool(sim, REST_POOL)["recycles"] == 1
    states = [r for r in sim.audit_records("ex01") if r.command == "Get-WebAppPoolState"]
    assert states and all(r.parameter("Name") == REST_POOL for r in states)
    assert all(r.outcome == "ok" for r in states)


def test_binding_an_array_to_the_scalar_name_fails_as_on_windows(sim: Simulator) -> None:
    from tests.sim.conftest import error_ids, messages, run
    from tests.sim.conftest import pool as runspace_pool

    with runspace_pool(sim) as p:
        shell = run(p, "Get-WebAppPoolState", Name=[REST_POOL])
    assert shell.had_errors
    assert error_ids(shell) == [
        "CannotConvertArgument,Microsoft.IIs.PowerShell.Provider.GetAppPoolStateCommand"
    ]
    assert messages(shell) == [
        "Cannot convert 'System.Object[]' to the type 'System.String' required by parameter 'Name'. "
        "Specified method is not supported."
    ]


# 4. a pool an administrator stopped stays stopped ------------------------------------------------------


@pytest.mark.parametrize("playbook", ["app-only-graph", "rest-v1s2s-profile"])
def test_a_stopped_pool_causes_no_rollback(start_sim: Any, tmp_path: Path, playbook: str) -> None:
    stopped = ["MSExchangeOWAAppPool", REST_POOL]
    sim = start_sim(
        Scenario.model_validate({"servers": 1, "server_defaults": {"stopped_app_pools": stopped}})
    )
    result = apply(sim, tmp_path, playbook=playbook)
    assert result.exit_code == 0, result.output
    assert last_run(tmp_path)["status"] == "succeeded"
    assert "left as before" in result.output
    assert f"{REST_POOL} (Stopped)" in result.output
    assert [pool(sim, name)["state"] for name in stopped] == ["Stopped", "Stopped"]
    assert pool(sim, REST_POOL)["recycles"] == 0  # IIS cannot recycle a stopped pool: not asked to
    assert check(sim, tmp_path, playbook) == 0


# 5. Move-Item -Force replaces in two steps ------------------------------------------------------------------


def test_a_replace_that_stops_between_delete_and_rename_is_rolled_back(
    sim: Simulator, tmp_path: Path
) -> None:
    original = fingerprint(sim)
    sim.inject(CmdletError(server="ex01", cmdlet="Move-Item", argument="rest\\web.config", when="midway"))
    result = apply(sim, tmp_path)
    assert result.exit_code == 1
    assert "Cannot create a file when that file already exists." in result.output
    assert "recreated from the snapshot (it was missing)" in result.output
    assert fingerprint(sim) == original  # the target is back, byte for byte; no temporary file left


def test_a_power_cut_between_delete_and_rename_is_rolled_back(tmp_path: Path) -> None:
    state, sim_state = tmp_path / "state", tmp_path / "state" / "sim"
    with Simulator(sim_state, restart_seconds=0, authentication=LAB):
        pass
    original = state_of(sim_state)
    from remediate.sim.faults import FaultBook

    FaultBook(sim_state / "faults.json").add(
        CmdletDelay(cmdlet="Move-Item", argument="rest\\web.config", when="midway", seconds=60)
    )
    run_and_kill(state, sim_state)
    with Simulator(sim_state, authentication=LAB) as sim:
        assert not sim.state("ex01").exists(sim.machine("ex01").path(WEB_CONFIG, "C:\\"))  # the gap
    [run] = json.loads(cli(state, "runs", "--output", "json").output)["runs"]
    preview = cli(state, "rollback", run["id"], "--dry-run")
    assert "missing: would recreate it from the snapshot" in preview.output
    result = cli(state, "rollback", run["id"], "--yes", "--health-timeout", "5")
    assert result.exit_code == 0, result.output
    assert state_of(sim_state) == original  # the new file left beside it is gone too


def test_a_pool_the_playbook_names_but_the_server_lacks_fails_and_rolls_back(
    sim: Simulator, tmp_path: Path
) -> None:
    original = fingerprint(sim)
    text = (Path(__file__).resolve().parents[1] / "playbooks" / "rest-v1s2s-profile.yaml").read_text()
    playbook = tmp_path / "typo.yaml"
    playbook.write_text(
        text.replace("pools: [MSExchangeRestFrontEndAppPool]", "pools: [MSExchangeRestFrontEndPool]")
    )
    result = apply(sim, tmp_path, playbook=str(playbook))
    assert result.exit_code == 1
    assert (
        "app-pool-missing" in result.output
        and "no app pool named MSExchangeRestFrontEndPool" in result.output
    )
    assert fingerprint(sim) == original
