"""State: seeding from scenarios, surviving restarts, per-server files, a shared organization."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from remediate.sim import Scenario, Simulator, load_scenario
from remediate.support.errors import RemediateError
from tests.sim.conftest import EXCHANGE_SNAPIN, LAB, WEB_CONFIG, content_lines, file_bytes, pool, run

MIB = 1024 * 1024


def _bytes(sim: Simulator, path: str, server: str = "ex01") -> bytes:
    with pool(sim, server) as p:
        shell = run(p, "Get-Content", LiteralPath=path, Encoding="Byte", ReadCount=0)
    return file_bytes(shell)


@pytest.mark.parametrize(
    ("transport", "auth"), [("http", "ntlm"), ("https", "basic"), ("https", "negotiate")]
)
def test_one_mebibyte_round_trip(sim: Simulator, transport: str, auth: str) -> None:
    payload = os.urandom(MIB)
    with pool(sim, transport=transport, auth=auth) as p:
        written = run(p, "Set-Content", LiteralPath="C:\\big.bin", Value=payload, Encoding="Byte")
        hashed = run(p, "Get-FileHash", LiteralPath="C:\\big.bin", Algorithm="SHA256")
        # read back as 5.1 sends it (about 13 bytes of CLIXML a byte): once is enough, it is slow
        read = (
            run(p, "Get-Content", LiteralPath="C:\\big.bin", Encoding="Byte", ReadCount=0)
            if auth == "ntlm"
            else None
        )
    assert not written.streams.error
    assert read is None or hashlib.sha256(file_bytes(read)).hexdigest() == hashlib.sha256(payload).hexdigest()
    assert hashed.output[0].extended_properties["Hash"] == hashlib.sha256(payload).hexdigest().upper()
    record = next(r for r in sim.audit_records("ex01") if r.command == "Set-Content")
    assert record.parameter("Value") == {"bytes": MIB, "sha256": hashlib.sha256(payload).hexdigest()}


def test_state_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "sim"
    with Simulator(state, servers=2, authentication=LAB) as first:
        with pool(first) as p:
            run(p, "Set-Content", LiteralPath=WEB_CONFIG, Value=b"changed", Encoding="Byte")
            run(p, "Add-PSSnapin", Name=EXCHANGE_SNAPIN)
            run(p, "Set-PartnerApplication", Identity="Microsoft Graph", AppOnlyPermissions=["Mail.Read"])
        password, ca = first.password, first.ca_file.read_bytes()
    with Simulator(state, authentication=LAB) as second:
        assert second.password == password and second.ca_file.read_bytes() == ca
        assert _bytes(second, WEB_CONFIG) == b"changed"
        assert _bytes(second, WEB_CONFIG, "ex02").startswith(b"\xef\xbb\xbf<?xml")
        with pool(second, exchange=True) as p:
            app = run(p, "Get-PartnerApplication", Identity="Microsoft Graph").output[0]
        assert app.adapted_properties["AppOnlyPermissions"] == ["Mail.Read"]


def test_files_are_per_server(sim: Simulator) -> None:
    with pool(sim, "ex01") as p:
        run(p, "Set-Content", LiteralPath="C:\\only-on-ex01.txt", Value="x")
    with pool(sim, "ex02") as p:
        assert run(p, "Test-Path", LiteralPath="C:\\only-on-ex01.txt").output == [False]


def test_scenario_file_seeds_the_organization(start_sim: object, tmp_path: Path) -> None:
    scenario_file = tmp_path / "scenario.yaml"
    scenario_file.write_text(
        """
description: two servers, one already fixed, one on Exchange 2016
credentials:
  - username: svc-remediate
    password: "Corr3ct horse!"
servers:
  - name: mbx01
    rest_web_config: {state: fixed, line_endings: lf, bom: false}
  - name: mbx02
    build: 15.1.2507.6
    files:
      'C:\\Scripts\\note.txt': hello
restart_seconds: 0
""",
        encoding="utf-8",
    )
    sim = start_sim(load_scenario(scenario_file))
    assert list(sim.servers) == ["mbx01", "mbx02"]
    assert sim.username == "CONTOSO\\svc-remediate" and sim.password == "Corr3ct horse!"
    fixed = _bytes(sim, WEB_CONFIG, "mbx01")
    assert fixed.startswith(b"<?xml") and b"\r\n" not in fixed and b"|V1S2SAppOnly" in fixed
    assert _bytes(sim, "C:\\Scripts\\note.txt", "mbx02") == b"hello"
    with pool(sim, "mbx02", exchange=True) as p:
        versions = {
            str(s): str(s.adapted_properties["AdminDisplayVersion"])
            for s in run(p, "Get-ExchangeServer").output
        }
    assert versions == {"MBX01": "Version 15.2 (Build 1748.10)", "MBX02": "Version 15.1 (Build 2507.6)"}


def test_unexpanded_install_dir_corruption(start_sim: object) -> None:
    from remediate.sim.scenario import ServerDefaults, WebConfig

    sim = start_sim(
        Scenario(server_defaults=ServerDefaults(rest_web_config=WebConfig(state="unexpanded-install-dir")))
    )
    assert b"file://%ExchangeInstallDir%FrontEnd" in _bytes(sim, WEB_CONFIG)


def test_scenario_errors_name_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("servers:\n  - name: ex01\n    build: fifteen\n", encoding="utf-8")
    with pytest.raises(RemediateError) as raised:
        load_scenario(bad)
    assert raised.value.reference == "sim-scenario-invalid"
    assert raised.value.message.endswith(
        "bad.yaml:3:12: servers[0].build: an Exchange build has four numbers, like 15.2.1748.10"
    )
    typo = tmp_path / "typo.yaml"
    typo.write_text("sever: 2\n", encoding="utf-8")
    with pytest.raises(RemediateError) as raised:
        load_scenario(typo)
    assert raised.value.message.endswith("typo.yaml:1:1: sever: unknown key 'sever'")
    assert raised.value.hint == "did you mean 'servers'?"


def test_state_mismatch_and_reset(tmp_path: Path) -> None:
    state = tmp_path / "sim"
    with Simulator(state, servers=1, authentication=LAB):
        pass
    with pytest.raises(RemediateError) as raised:
        Simulator(state, servers=3, authentication=LAB).start()
    assert raised.value.reference == "sim-state-mismatch"
    with Simulator(state, servers=3, reset=True, authentication=LAB) as sim:
        assert list(sim.servers) == ["ex01", "ex02", "ex03"]


def test_one_simulator_per_state_directory(sim: Simulator) -> None:
    with pytest.raises(RemediateError) as raised:
        Simulator(sim.state_dir).start()
    assert raised.value.reference == "sim-state-in-use"


def test_state_files_are_owner_only(sim: Simulator) -> None:
    assert sim.state_dir.stat().st_mode & 0o777 == 0o700
    for name in ("credentials.json", "password", "org.json"):
        assert (sim.state_dir / name).stat().st_mode & 0o777 == 0o600


def test_embedded_simulator_keeps_its_state_under_the_state_directory(tmp_path: Path) -> None:
    from remediate.sim.embedded import start_embedded

    first = start_embedded(tmp_path)
    try:
        assert first.state_dir == tmp_path / "sim"
        with pool(first) as p:
            run(p, "Set-Content", LiteralPath="C:\\kept.txt", Value="still here")
    finally:
        first.stop()
    second = start_embedded(tmp_path)
    try:
        with pool(second) as p:
            assert content_lines(run(p, "Get-Content", LiteralPath="C:\\kept.txt")) == ["still here"]
    finally:
        second.stop()
