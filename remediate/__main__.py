from __future__ import annotations

from remediate.cli import run

if __name__ == "__main__":
    run()
