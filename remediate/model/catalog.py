"""Where playbooks are: the built-in ones by name, or a file by path.

Kept apart from the playbook model (and pydantic) so that a command can name a mistyped
playbook, or start connecting, before the model is imported.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from remediate.support.errors import RemediateError

INVALID = "playbook-invalid"


def builtin_directory() -> Path:
    """The built-in playbooks: installed as remediate/playbooks, or playbooks/ in a checkout."""
    package = Path(__file__).resolve().parents[1]  # remediate/
    installed = package / "playbooks"
    return installed if installed.is_dir() else package.parent / "playbooks"


def builtin_names() -> list[str]:
    return sorted(path.stem for path in builtin_directory().glob("*.yaml"))


def locate(name_or_path: str) -> tuple[Path, str]:
    """Where a playbook is, and how errors name it: a file path, or a built-in name."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists() or "/" in name_or_path or "\\" in name_or_path:
        if not path.is_file():
            what = (
                "a directory" if path.is_dir() else "not a regular file" if path.exists() else "no such file"
            )
            raise RemediateError(INVALID, f"cannot read {path}: {what}", "check the path")
        return path, str(path)
    builtin = builtin_directory() / f"{name_or_path}.yaml"
    if not builtin.is_file():
        names = builtin_names()
        close = difflib.get_close_matches(name_or_path, names, n=1)
        hint = (
            f"did you mean {close[0]!r}?"
            if close
            else f"built-in playbooks: {', '.join(names)}; or give a file path"
        )
        raise RemediateError("playbook-not-found", f"no playbook named {name_or_path!r}", hint)
    return builtin, f"built-in:{name_or_path}"
