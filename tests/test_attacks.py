"""Hostile and clumsy input (issue 12): each case once broke remediate, or could have."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from remediate.model import inventory, playbook
from remediate.support.errors import RemediateError


def alias_bomb(levels: int, root: str) -> str:
    """`levels` levels of nine aliases each: 9**levels copies once expanded (6: half a million; kept
    small enough that a regression fails this test rather than exhausting the machine)."""
    lines = [f"{root}: &a0 [lol]"] if root else ["a0: &a0 [lol]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("kind", ["playbook", "inventory"])
def test_yaml_aliases_are_refused_quickly(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.yaml"
    text = alias_bomb(6, "name" if kind == "playbook" else "defaults")
    path.write_text(text, encoding="utf-8")
    assert len(text) < 600
    started = time.monotonic()
    with pytest.raises(RemediateError) as raised:
        playbook.load(str(path)) if kind == "playbook" else inventory.load(path)
    assert time.monotonic() - started < 2
    assert "YAML aliases are not allowed" in raised.value.message
    assert raised.value.hint and "&anchor" in raised.value.hint


def test_a_self_referencing_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("name: &a [*a]\n", encoding="utf-8")
    with pytest.raises(RemediateError) as raised:
        playbook.load(str(path))
    assert "YAML aliases are not allowed" in raised.value.message


@pytest.mark.parametrize("breaker", ["\r", "\n", "\x85", "\u2028", "\u2029"])
def test_discovered_inventories_cannot_be_injected(tmp_path: Path, breaker: str) -> None:
    from remediate.winrm.settings import Connection

    hostile = f"Version 15.2{breaker}insecure: true{breaker}servers: {{evil: {{host: attacker.example}}}}"
    servers = [
        {
            "name": "EX01",
            "fqdn": f"ex01.contoso.lab{breaker}  insecure: true",
            "version": hostile,
            "role": hostile,
        },
        {
            "name": f"EX02{breaker}insecure: true",
            "fqdn": "ex02.contoso.lab",
            "version": "v",
            "role": "Mailbox",
        },
    ]
    text = inventory.discovered(servers, Connection(), f"CONTOSO\\admin{breaker}insecure: true")
    path = tmp_path / "discovered.yaml"
    path.write_text(text, encoding="utf-8")
    loaded = inventory.load(path)
    assert sorted(loaded.inventory.servers) == ["ex01", f"ex02{breaker}insecure: true".lower()]
    assert all(not loaded.entry(name, Connection()).connection.insecure for name in loaded.inventory.servers)
    assert loaded.inventory.servers["ex01"].host == f"ex01.contoso.lab{breaker}  insecure: true"
    assert "evil" not in loaded.inventory.servers


@pytest.mark.parametrize(
    ("token", "said"),
    [
        ("V1S2SApp\\u0001Only", "a control character: U+0001"),
        ("V1S2S\\u200bAppOnly", "invisible: U+200B ZERO WIDTH SPACE"),
        ("V1S2S\\u0410ppOnly", "not ASCII: U+0410 CYRILLIC CAPITAL LETTER A"),
        ("V1S2S\\ufeffAppOnly", "invisible: U+FEFF ZERO WIDTH NO-BREAK SPACE"),
        ("V1S2S\\u00a0AppOnly", "invisible: U+00A0 NO-BREAK SPACE"),
    ],
)
def test_tokens_that_exchange_would_silently_ignore_are_refused(
    tmp_path: Path, token: str, said: str
) -> None:
    text = (Path(__file__).resolve().parents[1] / "playbooks" / "rest-v1s2s-profile.yaml").read_text()
    path = tmp_path / "pasted.yaml"
    path.write_text(text.replace("token: V1S2SAppOnly", f'token: "{token}"'), encoding="utf-8")
    with pytest.raises(RemediateError) as raised:
        playbook.load(str(path))
    assert said in raised.value.message
    assert "steps[0].xml_token.token" in raised.value.message
