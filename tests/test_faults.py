"""The fault matrix: every step boundary of app-only-graph on a two-server organization, times
every fault the simulator can inject, through pypsrp against the simulator.

Whatever happens, each target (web.config on ex01 and ex02, the partner application) ends
either exactly as it was or exactly as the playbook wants it; the journal's step statuses
agree with the servers; `remediate runs` and `show` report the same status; no temporary
file or lock is left behind. A killed process leaves an `interrupted` run that `rollback`
restores exactly.

The faults hit ex01, the first batch: it holds the web.config step and, through it, the
organization step (the partner application).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from remediate.cli import main
from remediate.sim import CmdletDelay, CmdletError, DropConnection, RestartFailure, Simulator
from remediate.sim.faults import FaultBook
from remediate.sim.scenario import GRAPH_ACT_AS_PERMISSIONS
from remediate.sim.store import Store
from tests.lab import LAB
from tests.test_crash import run_and_kill
from tests.test_fleet import write_inventory

WEB_CONFIG = "c:\\program files\\microsoft\\exchange server\\v15\\frontend\\httpproxy\\rest\\web.config"
LOCK = "c:\\programdata\\remediate.lock"
SERVERS = ("ex01", "ex02")


@dataclass(frozen=True)
class Boundary:
    """Where in the run a fault hits: the nth call of a cmdlet on ex01, before or after it runs."""

    cmdlet: str
    nth: int
    when: str
    argument: str | None = None  # only calls naming this (the target, not remediate's records)


BOUNDARIES = {
    # the re-check of web.config (its SHA-256) just before its snapshot is committed
    "before snapshot": Boundary("Get-FileHash", 1, "before", "rest\\web.config"),
    # snapshot committed and kept on the server; the temporary file is about to be written
    "after snapshot": Boundary("Set-Content", 1, "before", "rest\\web.config"),
    # the new web.config has replaced the old one (Move-Item ran); not yet verified
    "after write": Boundary("Move-Item", 1, "after", "rest\\web.config"),
    # web.config verified; the partner application's snapshot committed, its Set- about to run
    "after verify": Boundary("Set-PartnerApplication", 1, "before"),
    # the IIS restart (handler)
    "during restart": Boundary("Restart-Service", 1, "after"),
    # the first health check after the restart
    "during health check": Boundary("Get-Service", 1, "before"),
}
FAULTS = (
    "cmdlet error",
    "dropped connection",
    "access denied",
    "restart failure",
    "hang past the timeout",
    "process killed",
)


def fault_for(kind: str, boundary: Boundary) -> Any | None:
    """The simulator fault for `kind` at `boundary`, or None where it cannot happen there."""
    at = {"server": "ex01", "cmdlet": boundary.cmdlet, "nth": boundary.nth, "argument": boundary.argument}
    if kind == "cmdlet error":
        return CmdletError(**at)
    if kind == "access denied":
        return CmdletError(**at, error="access-denied")
    if kind == "dropped connection":
        return DropConnection(**at, when=boundary.when)
    if kind == "hang past the timeout":
        return CmdletDelay(**at, when=boundary.when, seconds=30)
    if kind == "process killed":  # a place to catch the process; it is killed there
        return CmdletDelay(**at, when=boundary.when, seconds=60)
    if kind == "restart failure":
        return RestartFailure(server="ex01", mode="fail") if boundary.cmdlet == "Restart-Service" else None
    raise AssertionError(kind)


def expected_status(kind: str, boundary: Boundary) -> str:
    """What the run should end as: reads are repeated after a lost connection (a re-read, a
    health check), and so is the restart; health checks are asked again until --health-timeout;
    a failed write, verify or restart rolls the batch back; a failure before any write refuses."""
    if boundary == BOUNDARIES["during health check"]:
        return "succeeded"
    if kind == "dropped connection" and boundary in (
        BOUNDARIES["before snapshot"],
        BOUNDARIES["during restart"],
    ):
        return "succeeded"
    return "refused" if boundary == BOUNDARIES["before snapshot"] else "rolled-back"


CASES = [
    pytest.param(kind, boundary, id=f"{kind} {name}")
    for name, boundary in BOUNDARIES.items()
    for kind in FAULTS
    if fault_for(kind, boundary) is not None
]
NOT_APPLICABLE = len(BOUNDARIES) * len(FAULTS) - len(CASES)


def test_the_matrix_size_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():
        print(
            f"\nfault matrix: {len(BOUNDARIES)} boundaries x {len(FAULTS)} faults = "
            f"{len(BOUNDARIES) * len(FAULTS)}, {len(CASES)} cases run, {NOT_APPLICABLE} not applicable "
            "(a restart failure only happens at the restart)"
        )
    assert len(CASES) == len(BOUNDARIES) * (len(FAULTS) - 1) + 1


# -- observing the simulator's state on disk ----------------------------------------------------------------


def observe(sim_state: Path) -> dict[str, Any]:
    org, servers = Store(sim_state).load()
    seen: dict[str, Any] = {}
    for name in SERVERS:
        server = servers[name]
        blob = server.data["files"][WEB_CONFIG]["blob"]
        seen[f"{name} web.config"] = hashlib.sha256(
            (sim_state / "blobs" / name / blob).read_bytes()
        ).hexdigest()
        seen[f"{name} leftovers"] = sorted(p for p in server.data["files"] if p.endswith(".tmp") or p == LOCK)
    graph = next(a for a in org.partner_applications() if a["Name"] == "Microsoft Graph")
    seen["app only"] = sorted(graph["AppOnlyPermissions"] or [])
    return seen


def expected_states(sim_state: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    original = observe(sim_state)
    org, servers = Store(sim_state).load()
    desired = dict(original)
    for name in SERVERS:
        blob = servers[name].data["files"][WEB_CONFIG]["blob"]
        content = (sim_state / "blobs" / name / blob).read_bytes()
        fixed = content.replace(b'|CallbackV2" />', b'|CallbackV2|V1S2SAppOnly" />', 1)
        assert fixed != content
        desired[f"{name} web.config"] = hashlib.sha256(fixed).hexdigest()
    desired["app only"] = sorted(GRAPH_ACT_AS_PERMISSIONS)
    return original, desired


def target_key(step: dict[str, Any]) -> str:
    return "app only" if "PartnerApplication" in step["target"] else f"{step['server']} web.config"


def cli(state: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["--state-dir", str(state), *args], env=env, catch_exceptions=False)


def check_the_truth(state: Path, sim_state: Path, original: dict[str, Any], desired: dict[str, Any]) -> str:
    """Every target is original or desired, the journal agrees, runs/show say so. Returns the status."""
    now = observe(sim_state)
    for key in ("ex01 web.config", "ex02 web.config", "app only"):
        assert now[key] in (original[key], desired[key]), f"{key} is neither as it was nor as wanted"
    run = json.loads(cli(state, "runs", "--output", "json").output)["runs"][0]
    shown = json.loads(cli(state, "show", run["id"], "--output", "json").output)
    assert shown["run"]["status"] == run["status"]
    for step in shown["steps"]:
        key = target_key(step)
        if step["status"] == "verified":  # written, read back and compared: applied
            assert now[key] == desired[key], f"the journal says {key} is applied"
        elif step["status"] in ("rolled-back", "not-applied", "planned"):
            assert now[key] == original[key], f"the journal says {key} is {step['status']}"
        else:
            assert run["status"] == "interrupted", f"{key}: step left {step['status']} in a finished run"
    if run["status"] == "succeeded":
        assert all(now[k] == desired[k] for k in ("ex01 web.config", "ex02 web.config", "app only"))
    elif run["status"] in ("rolled-back", "refused"):
        assert all(now[k] == original[k] for k in ("ex01 web.config", "ex02 web.config", "app only"))
    else:
        assert run["status"] == "interrupted", run["status"]
    assert run["status"] in cli(state, "runs").output
    text = cli(state, "show", run["id"]).output
    assert f"status: {run['status']}" in text
    return str(run["status"])


# -- the matrix ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "boundary"), CASES)
def test_fault_matrix(kind: str, boundary: Boundary, tmp_path: Path) -> None:
    state = tmp_path / "state"
    sim_state = state / "sim"
    with Simulator(sim_state, servers=2, restart_seconds=0, authentication=LAB):  # seeds the organization
        pass
    original, desired = expected_states(sim_state)
    fault = fault_for(kind, boundary)
    FaultBook(sim_state / "faults.json").add(fault)
    if kind == "process killed":
        run_and_kill(state, sim_state)
        status = check_the_truth(state, sim_state, original, desired)
        assert status == "interrupted"
        run = json.loads(cli(state, "runs", "--output", "json").output)["runs"][0]
        result = cli(state, "rollback", run["id"], "--yes", "--health-timeout", "5")
        assert result.exit_code == 0, result.output
        assert observe(sim_state) == original
        return
    with Simulator(sim_state, restart_seconds=0, authentication=LAB) as sim:
        inventory = write_inventory(sim, tmp_path / "inventory.yaml")
        result = cli(
            state,
            "apply",
            "app-only-graph",
            "-i",
            str(inventory),
            "--yes",
            "--timeout",
            "2",
            "--restart-timeout",
            "2",
            "--health-timeout",
            "3",
            env={"REMEDIATE_PASSWORD": sim.password},
        )
        fired = [f.fired for f in sim.faults.active()]
    assert fired and all(fired), f"the fault never fired: {result.output}"
    status = check_the_truth(state, sim_state, original, desired)
    assert (result.exit_code == 0) == (status == "succeeded"), result.output
    assert status == expected_status(kind, boundary), result.output
    assert observe(sim_state) in (original, desired)  # leftovers (temporary files, locks) included
