"""What the CLI's commands share."""

from __future__ import annotations

from pathlib import Path


class Context:
    """Options every subcommand may need; passed explicitly, never read globally."""

    def __init__(self, state_dir: Path | None) -> None:
        self._state_dir = state_dir

    def state_dir(self) -> Path:
        from remediate.state import state_dir

        return state_dir(self._state_dir)
