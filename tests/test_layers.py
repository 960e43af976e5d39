"""The layers of the package, as ARCHITECTURE.md draws them, hold in the code.

Every import statement counts, also those inside functions (imported lazily to keep `--help`
fast) and those only for type checking: a layer may import its own and lower layers, never
a higher one. The simulator imports only `support`. The CLI reaches servers only through
`app`: it imports no session, reader, writer or engine.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "remediate"
# lowest first; a layer may import those before it and itself
ORDER = ["support", "winrm", "kinds", "model", "engine", "app", "cli"]
ALLOWED: dict[str, set[str]] = {layer: set(ORDER[: i + 1]) for i, layer in enumerate(ORDER)}
ALLOWED["cli"] = {"support", "kinds", "model", "app", "cli", "sim"}  # not winrm, not engine
ALLOWED["sim"] = {"support", "sim"}
ALLOWED["app"] |= {"sim"}  # starts the embedded simulator (`--host sim`)
MAX_LINES = 400


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "remediate" or len(parts) < 2:
        return None
    return parts[1] if parts[1] in ALLOWED else None


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "remediate":
                found += [(node.lineno, f"remediate.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, node.module))
    return found


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _own_layer(path: Path) -> str | None:
    relative = path.relative_to(PACKAGE).parts
    return relative[0] if len(relative) > 1 and relative[0] in ALLOWED else None


def test_every_module_lives_in_a_layer() -> None:
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name not in ("__init__.py", "__main__.py")]
    assert loose == [], f"modules outside the layers: {loose}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_runs_up_a_layer(path: Path) -> None:
    layer = _own_layer(path)
    if layer is None:
        return
    wrong = [
        f"line {line}: {module} ({_layer(module)})"
        for line, module in _imports(path)
        if _layer(module) is not None and _layer(module) not in ALLOWED[layer]
    ]
    assert wrong == [], f"{layer} may import {sorted(ALLOWED[layer])} only"


def test_the_checker_sees_a_wrong_import(tmp_path: Path) -> None:
    """The rule above can fail: an up-layer import, even lazy, is found."""
    source = tmp_path / "bad.py"
    source.write_text("def f():\n    from remediate.engine.apply import apply_plan\n")
    modules = [module for _, module in _imports(source)]
    assert modules == ["remediate.engine.apply"]
    assert _layer(modules[0]) not in ALLOWED["winrm"]


@pytest.mark.parametrize(
    "path",
    [p for p in _modules() if _own_layer(p) != "sim"],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_no_module_outside_the_simulator_is_over_400_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{lines} lines: split it by job"
