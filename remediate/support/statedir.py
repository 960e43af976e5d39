"""Where remediate keeps its state: the journal, the embedded simulator, crash logs.

The location is, in order: an explicit directory (--state-dir), the REMEDIATE_STATE_DIR
environment variable, or the platform's user state directory. It is created readable by
its owner only.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

STATE_DIR_ENV = "REMEDIATE_STATE_DIR"


def state_dir(explicit: Path | None = None) -> Path:
    if explicit is not None:
        return private_dir(explicit)
    from_env = os.environ.get(STATE_DIR_ENV)
    if from_env:
        return private_dir(Path(from_env))
    import platformdirs

    return private_dir(Path(platformdirs.user_state_dir("remediate", appauthor=False)))


def private_dir(path: Path) -> Path:
    """Create `path` (and parents) if needed; make the leaf owner-only (0700)."""
    from remediate.support.errors import RemediateError

    path = path.expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)
    except (FileExistsError, NotADirectoryError):
        raise RemediateError(
            "state-dir-invalid",
            f"{path} cannot be a folder: it, or a folder above it, is a file",
            "give a folder with --state-dir (or REMEDIATE_STATE_DIR), or move the file away",
        ) from None
    except PermissionError as error:
        raise RemediateError(
            "state-dir-invalid",
            f"{path} cannot be used: {error.strerror}",
            "give a folder you may write to with --state-dir (or REMEDIATE_STATE_DIR)",
        ) from None
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically, readable by the owner only (0600)."""
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temporary = Path(name)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
