"""The simulator behind `--host sim`: started inside remediate's own process.

Its state persists under `<state-dir>/sim` (the directory `remediate sim serve` uses by
default), so a newcomer's changes are still there next time and no second terminal is
needed. It listens on free ports on 127.0.0.1 and stops with the process.
"""

from __future__ import annotations

from pathlib import Path

from remediate.sim.simulator import Simulator

EMBEDDED_DIRECTORY = "sim"


def start_embedded(state_dir: Path) -> Simulator:
    return Simulator(state_dir / EMBEDDED_DIRECTORY, port=0).start()
