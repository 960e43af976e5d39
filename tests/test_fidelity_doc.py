"""docs/fidelity.md covers every cmdlet remediate sends to a server."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CMDLET = re.compile(r'"((?:Get|Set|New|Remove|Copy|Move|Restart|Add|Test)-[A-Z][A-Za-z]+)"')


def cmdlets_remediate_calls() -> set[str]:
    """Every cmdlet name written in the client's code (the simulator is not the client), and the
    Get-/Set- pair of every Exchange noun a built-in playbook's steps read and write, and the Get-
    of every noun its preconditions read."""
    from remediate.model import playbook as playbooks

    found: set[str] = set()
    for source in (ROOT / "remediate").rglob("*.py"):
        if "sim" not in source.relative_to(ROOT / "remediate").parts:
            found |= set(CMDLET.findall(source.read_text(encoding="utf-8")))
    for path in (ROOT / "playbooks").glob("*.yaml"):
        loaded = playbooks.load(str(path)).playbook
        for step in loaded.steps:
            noun = getattr(step.settings, "noun", None)
            if noun:
                found |= {f"Get-{noun}", f"Set-{noun}"}
        for precondition in loaded.preconditions:
            noun = getattr(precondition.settings, "noun", None)
            if noun:
                found.add(f"Get-{noun}")
    return found


def test_every_remote_call_has_its_evidence() -> None:
    headings = set(
        re.findall(r"^### (\S+)$", (ROOT / "docs" / "fidelity.md").read_text(encoding="utf-8"), re.M)
    )
    called = cmdlets_remediate_calls()
    assert {
        "Get-Content",
        "Move-Item",
        "Get-WebAppPoolState",
        "Set-PartnerApplication",
        "Get-OutlookAnywhere",
    } <= called
    assert called - headings == set()
