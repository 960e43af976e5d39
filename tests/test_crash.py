"""Crash safety: an apply killed (SIGKILL) right after a snapshot or right after a write.

The apply runs in its own process against the embedded simulator (`--host sim`), so the
kill takes the simulated server down with it, mid-command, as a power cut would. A slow
cmdlet (the simulator's cmdlet-delay fault) is where the process is caught; the fault's
fired count says it got there. Then `remediate runs` must show the run as interrupted and
`remediate rollback` must restore the original state exactly.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from remediate.cli import main
from remediate.sim import CmdletDelay, Simulator
from remediate.sim.faults import FaultBook
from remediate.sim.store import Store
from tests.lab import LAB

WEB_CONFIG = "c:\\program files\\microsoft\\exchange server\\v15\\frontend\\httpproxy\\rest\\web.config"


def state_of(sim_state: Path) -> dict[str, Any]:
    org, servers = Store(sim_state).load()
    server = servers["ex01"]
    entry = server.data["files"].get(WEB_CONFIG)
    content = (sim_state / "blobs" / "ex01" / entry["blob"]).read_bytes() if entry else None
    graph = next(a for a in org.partner_applications() if a["Name"] == "Microsoft Graph")
    temporary = [p for p in server.data["files"] if p.endswith(".tmp") and "\\remediate\\runs\\" not in p]
    return {
        "web.config": hashlib.sha256(content).hexdigest() if content is not None else None,
        "app_only": graph["AppOnlyPermissions"],
        "organization_locks": [scope["Name"] for scope in org.management_scopes()],
        "tmp": temporary,
    }


CRASH_POINTS = {
    # the run's record on ex01 is being written (its snapshots kept, nothing changed yet)
    "while the record is written": CmdletDelay(
        cmdlet="Set-Content", argument="record.json", when="before", seconds=60
    ),
    # the record is written beside its place, not yet moved there
    "before the record is moved into place": CmdletDelay(
        cmdlet="Move-Item", argument="record.json", when="before", seconds=60
    ),
    # step 1 (web.config): snapshot committed and kept; the temporary file is being written
    "after the web.config snapshot": CmdletDelay(
        cmdlet="Set-Content", argument="rest\\web.config", when="before", seconds=60
    ),
    # step 1: the new web.config has replaced the old one; its result is not yet reported
    "after the web.config write": CmdletDelay(
        cmdlet="Move-Item", argument="rest\\web.config", when="after", seconds=60
    ),
    # step 2 (partner application): snapshot committed; Set-PartnerApplication not run yet
    "after the partner application snapshot": CmdletDelay(
        cmdlet="Set-PartnerApplication", when="before", seconds=60
    ),
    # step 2: Set-PartnerApplication has run; its result is not yet reported
    "after the partner application write": CmdletDelay(
        cmdlet="Set-PartnerApplication", when="after", seconds=60
    ),
}


# What has changed on the server when the process is killed: proof it was killed where meant.
CHANGED_AT_KILL = {
    "while the record is written": set(),
    "before the record is moved into place": set(),
    "after the web.config snapshot": set(),
    "after the web.config write": {"web.config"},
    "after the partner application snapshot": {"web.config"},
    "after the partner application write": {"web.config", "app_only"},
}


def delay_name(delay: CmdletDelay) -> str:
    return next(name for name, value in CRASH_POINTS.items() if value is delay)


@pytest.mark.parametrize("delay", list(CRASH_POINTS.values()), ids=list(CRASH_POINTS))
def test_a_killed_apply_can_be_rolled_back_exactly(tmp_path: Path, delay: CmdletDelay) -> None:
    state = tmp_path / "state"
    sim_state = state / "sim"
    with Simulator(
        sim_state, restart_seconds=0, authentication=LAB
    ):  # seed the embedded organization, with fast restarts
        pass
    original = state_of(sim_state)
    FaultBook(sim_state / "faults.json").add(delay)
    run_and_kill(state, sim_state)

    killed = state_of(sim_state)
    changed = {key for key in ("web.config", "app_only") if killed[key] != original[key]}
    assert changed == CHANGED_AT_KILL[delay_name(delay)], killed

    runner = CliRunner()
    [run] = json.loads(runner.invoke(main, ["--state-dir", str(state), "runs", "--output", "json"]).output)[
        "runs"
    ]
    assert run["status"] == "interrupted"
    listed = runner.invoke(main, ["--state-dir", str(state), "runs"]).output
    assert "interrupted" in listed

    result = runner.invoke(
        main, ["--state-dir", str(state), "rollback", run["id"], "--yes", "--health-timeout", "5"]
    )
    assert result.exit_code == 0, result.output
    assert state_of(sim_state) == original
    runs = json.loads(runner.invoke(main, ["--state-dir", str(state), "runs", "--output", "json"]).output)[
        "runs"
    ]
    assert runs[0]["kind"] == "rollback" and runs[0]["status"] == "succeeded"
    assert runs[1]["rolled_back_by"] == runs[0]["id"]


def run_and_kill(
    state: Path,
    sim_state: Path,
    *command: str,
    until: Callable[[list[Any]], bool] | None = None,
) -> None:
    """Run remediate in a process of its own (`--host sim`: the embedded simulator dies with it,
    as in a power cut); SIGKILL it once `until` says so of the simulator's faults (by default:
    once any fault has fired). The command defaults to `apply app-only-graph --host sim --yes`."""
    command = command or ("apply", "app-only-graph", "--host", "sim", "--yes")
    reached = until or (lambda faults: any(fault.fired for fault in faults))
    process = subprocess.Popen(
        [sys.executable, "-m", "remediate", "--state-dir", str(state), *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ},
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            if reached(FaultBook(sim_state / "faults.json").active()):
                break
            time.sleep(0.05)
        assert process.poll() is None, "the command ended before reaching the fault"
        time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
