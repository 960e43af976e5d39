"""The simulator's latency model: time spent waiting where a real server spends it, seen by
real pypsrp over real sockets; waiting, not computing (issue 18)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from remediate.sim.latency import PRESETS, Latency, resolve
from remediate.sim.scenario import Scenario
from tests.test_apply import cli, credentials, host_args


def test_presets_and_keys() -> None:
    assert resolve("none") == Latency()
    assert resolve("realistic").snapin_ms > resolve("realistic").cmdlet_ms > 0
    assert resolve({"round_trip_ms": 30}).round_trip_ms == 30
    with pytest.raises(ValueError, match="not one of"):
        resolve("slow")
    assert set(PRESETS) == {"none", "realistic"}


def _plan_seconds(sim: Any, tmp_path: Path) -> tuple[float, float]:
    servers = host_args(sim)[: host_args(sim).index("--health-timeout")]
    wall, cpu = time.perf_counter(), time.process_time()
    result = cli(tmp_path, "plan", "app-only-graph", *servers, env=credentials(sim))
    assert result.exit_code in (0, 2), result.output
    return time.perf_counter() - wall, time.process_time() - cpu


def test_a_slow_server_is_slow_to_plan_and_costs_no_cpu(start_sim: Any, tmp_path: Path) -> None:
    slow = Latency(runspace_open_ms=400, cmdlet_ms=40, exchange_cmdlet_ms=300, round_trip_ms=5)
    sim = start_sim(Scenario(servers=1, latency=slow), restart_seconds=0)
    wall, cpu = _plan_seconds(sim, tmp_path)
    counters = sim.counters_for("ex01")
    # at least: one runspace pool (two with the Exchange access), a round trip per request,
    # and the cmdlets the plan ran
    floor = 0.4 + 0.005 * counters["wsman_requests"] + 0.3
    assert wall >= floor, (wall, floor, counters)
    assert cpu < wall / 2  # the client waited: it did not spend the time computing


def test_a_scenario_names_the_preset(tmp_path: Path) -> None:
    scenario = Scenario.model_validate({"servers": 1, "latency": "realistic"})
    from remediate.sim.seed import seed

    org, _, _ = seed(scenario)
    assert org["latency"] == PRESETS["realistic"].model_dump()
    assert Scenario.model_validate({"servers": 1}).latency == "none"
