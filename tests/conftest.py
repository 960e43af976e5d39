from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables as on a wide terminal, whatever runs the tests (test_rough_edges narrows it)."""
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """The CLI configures logging for the whole process; give each test its own."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def start_sim(tmp_path: Path) -> Iterator[Any]:
    """Start simulators with chosen options (each in its own state directory); stopped at the end."""
    from remediate.sim import Scenario, Simulator
    from tests.lab import LAB

    started: list[Simulator] = []

    def start(scenario: Scenario | None = None, **options: Any) -> Simulator:
        options.setdefault("restart_seconds", 0.05)
        if scenario is None or "authentication" not in scenario.model_fields_set:
            # most tests reach /PowerShell with NTLM (there is no KDC); the Kerberos tests say
            # what they want in their scenario
            options.setdefault("authentication", LAB)
        state = options.pop("state", tmp_path / f"sim{len(started) or ''}")
        simulator = Simulator(state, scenario=scenario, **options)
        started.append(simulator.start())
        return simulator

    yield start
    for simulator in started:
        simulator.stop()
