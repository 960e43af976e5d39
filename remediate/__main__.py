from __future__ import annotations

from remediate.cli import main

if __name__ == "__main__":
    main()
