"""The catalogue of Microsoft-documented fixes, each planned, applied, checked and rolled back
byte-exact on the simulator through pypsrp (issue 17)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from remediate.kinds.resources.text_replace import TextReplace, TextReplaceResource, splice
from remediate.sim import Simulator
from remediate.sim.scenario import Scenario, Server
from remediate.support.errors import RemediateError
from tests.test_apply import apply, cli, credentials, host_args, last_run, rollback

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "css-exchange"
INSTALL = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\"
ECP = INSTALL + "ClientAccess\\ecp\\web.config"
OWA = INSTALL + "FrontEnd\\HttpProxy\\owa\\web.config"


def real_ecp_web_config() -> str:
    """Microsoft's test data: an E19 ClientAccess\\ecp\\web.config whose BinSearchFolders still
    says %ExchangeInstallDir% (HealthChecker's IIS web configuration check)."""
    path = FIXTURES / "E19_Exchange_IIS_ClientAccess_ecp_web.config"
    if not path.exists():
        pytest.skip("../shared/fixtures/css-exchange is not present")
    return path.read_text(encoding="utf-8")


def file_bytes(sim: Simulator, server: str, path: str) -> bytes:
    state = sim.state(server)
    with state.lock:
        return state.read(sim.machine(server).path(path, "C:\\"))


@pytest.fixture
def broken(start_sim: Any) -> Simulator:
    """Two servers: ex01 with the real broken ecp web.config and a broken owa one, ex02 clean."""
    owa = '<?xml version="1.0"?>\r\n<configuration>\r\n  <appSettings>\r\n    <add key="X" value="%ExchangeInstallDir%bin\\x.dll;%ExchangeInstallDir%\\y" />\r\n  </appSettings>\r\n</configuration>\r\n'
    scenario = Scenario(
        servers=[Server(name="ex01", files={ECP: real_ecp_web_config(), OWA: owa}), Server(name="ex02")]
    )
    return start_sim(scenario, restart_seconds=0)  # type: ignore[no-any-return]


def test_repair_install_dir_plans_applies_checks_and_rolls_back_exactly(
    broken: Simulator, tmp_path: Path
) -> None:
    before = {path: file_bytes(broken, "ex01", path) for path in (ECP, OWA)}
    servers = host_args(broken)[: host_args(broken).index("--health-timeout")]
    planned = cli(tmp_path, "plan", "repair-install-dir", *servers, env=credentials(broken))
    assert planned.exit_code == 0, planned.output
    assert (
        "replaces 1 occurrence of '%ExchangeInstallDir%' with 'C:\\Program Files\\Microsoft\\Exchange Server\\V15'"
        in planned.output
    )
    assert "replaces 2 occurrences" in planned.output  # owa
    assert "no change (the file is not on this server)" in planned.output

    assert apply(broken, tmp_path, playbook="repair-install-dir").exit_code == 0
    ecp = file_bytes(broken, "ex01", ECP)
    assert b"%ExchangeInstallDir%" not in ecp
    assert (
        b'value="C:\\Program Files\\Microsoft\\Exchange Server\\V15\\bin;' in ecp
    )  # as HealthChecker wants it
    # a splice: every other byte as it was (the length changes by the difference, once)
    old = before[ECP]
    grown = len(ecp) - len(old)
    cut = old.index(b"%ExchangeInstallDir%")
    assert ecp[:cut] == old[:cut] and ecp[cut + 20 + grown :] == old[cut + 20 :]
    owa = file_bytes(broken, "ex01", OWA)
    assert (
        b'value="C:\\Program Files\\Microsoft\\Exchange Server\\V15bin\\x.dll;C:\\Program Files\\Microsoft\\Exchange Server\\V15\\y"'
        in owa
    )

    checked = cli(tmp_path, "check", "repair-install-dir", *servers, env=credentials(broken))
    assert checked.exit_code == 0, checked.output  # nothing left to do

    assert rollback(broken, tmp_path, last_run(tmp_path)["id"]).exit_code == 0
    assert {path: file_bytes(broken, "ex01", path) for path in (ECP, OWA)} == before


def test_repair_install_dir_refuses_an_old_build(start_sim: Any, tmp_path: Path) -> None:
    sim = start_sim(Scenario(servers=[Server(name="ex01", build="15.0.1497.2")]), restart_seconds=0)
    servers = host_args(sim)[: host_args(sim).index("--health-timeout")]
    planned = cli(tmp_path, "plan", "repair-install-dir", *servers, env=credentials(sim))
    assert planned.exit_code == 1 and "! precondition-failed:" in planned.output


@pytest.mark.parametrize(
    ("bom", "codec"),
    [(b"", "utf-8"), (b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")],
)
def test_a_splice_keeps_the_files_encoding(bom: bytes, codec: str) -> None:
    text = 'a="%ExchangeInstallDir%\\bin" b="%ExchangeInstallDir%"\r\n'
    content = bom + text.encode(codec)
    spliced, count = splice(content, "%ExchangeInstallDir%", "D:\\Ex")
    assert count == 2 and spliced == bom + text.replace("%ExchangeInstallDir%", "D:\\Ex").encode(codec)
    resource, spec = (
        TextReplaceResource(),
        TextReplace(path="x", find="%ExchangeInstallDir%", replace="D:\\Ex"),
    )
    assert resource.inverse(spec, content, spliced, spliced) == content
    later = (
        spliced.replace(b"\r\n", b"\n") if codec == "utf-8" else spliced[:-2]
    )  # someone else's edit moved them
    with pytest.raises(RemediateError) as raised:
        resource.inverse(spec, content, spliced, later[: len(later) - 1])
    assert raised.value.reference == "inverse-impossible"


def test_a_match_is_never_half_a_utf16_character() -> None:
    content = b"\xff\xfe" + "x%A%".encode("utf-16-le")
    shifted = b"\xff\xfe\x00" + "%A%".encode("utf-16-le")[:-1]  # the bytes of "%A%" at an odd offset
    assert splice(content, "%A%", "B")[1] == 1
    assert splice(shifted, "%A%", "B")[1] == 0
    assert hashlib.sha256(splice(shifted, "%A%", "B")[0]).digest() == hashlib.sha256(shifted).digest()


def registry(sim: Simulator, server: str = "ex01") -> dict[str, Any]:
    state = sim.state(server)
    with state.lock:
        return {key: dict(entry["values"]) for key, entry in state.data["registry"].items()}


def test_tls12_sets_the_registry_and_rolls_back_exactly(start_sim: Any, tmp_path: Path) -> None:
    sim = start_sim(servers=1, restart_seconds=0)
    before = registry(sim)
    servers = host_args(sim)[: host_args(sim).index("--health-timeout")]
    planned = cli(tmp_path, "plan", "tls12", *servers, env=credentials(sim))
    assert planned.exit_code == 0, planned.output
    assert "Plan: 12 to change" in planned.output and "creates HKLM:\\SYSTEM" in planned.output
    applied = apply(sim, tmp_path, playbook="tls12")
    assert applied.exit_code == 0, applied.output
    assert "REBOOT REQUIRED" in applied.output and not [
        r for r in sim.audit_records() if r.command == "Restart-Service"
    ]
    after = registry(sim)
    tls = "hklm:\\system\\currentcontrolset\\control\\securityproviders\\schannel\\protocols\\tls 1.2"
    assert after[tls + "\\server"] == {
        "Enabled": {"kind": "DWord", "value": 1},
        "DisabledByDefault": {"kind": "DWord", "value": 0},
    }
    net = "hklm:\\software\\wow6432node\\microsoft\\.netframework\\v4.0.30319"
    assert after[net]["SchUseStrongCrypto"] == {"kind": "DWord", "value": 1}  # an existing value, changed
    assert after[net]["SystemDefaultTlsVersions"] == {"kind": "DWord", "value": 1}  # a new one, typed
    # no key was ever made with New-Item -Force (which empties a key that exists; on a folder,
    # remediate's own run folder, -Force only keeps one that exists)
    assert not [
        r
        for r in sim.audit_records()
        if r.command == "New-Item"
        and "Force" in dict(r.parameters)
        and str(r.parameter("Path")).startswith("HKLM:")
    ]
    assert cli(tmp_path, "check", "tls12", *servers, env=credentials(sim)).exit_code == 0

    assert rollback(sim, tmp_path, last_run(tmp_path)["id"]).exit_code == 0
    assert registry(sim) == before  # values back, created values and keys gone


def test_a_key_someone_filled_since_is_left_alone_by_the_rollback(start_sim: Any, tmp_path: Path) -> None:
    sim = start_sim(servers=1, restart_seconds=0)
    assert apply(sim, tmp_path, playbook="tls12").exit_code == 0
    from remediate.sim.winpath import WinPath

    server = WinPath(
        "Registry",
        "HKLM:\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\Server",
    )
    state = sim.state("ex01")
    with state.lock:
        state.set_registry_value(server, "Theirs", "DWord", 7)  # another admin's value, added since
    assert rollback(sim, tmp_path, last_run(tmp_path)["id"]).exit_code == 0
    values = registry(sim)[server.key]
    assert values == {"Theirs": {"kind": "DWord", "value": 7}}  # ours removed, theirs and the key kept


def overrides(sim: Simulator) -> list[dict[str, Any]]:
    with sim.org.lock:
        return [dict(o) for o in sim.org.data.get("setting_overrides", [])]


def test_serialization_signing_creates_the_override_refreshes_and_rolls_back(
    start_sim: Any, tmp_path: Path
) -> None:
    sim = start_sim(servers=2, restart_seconds=0)
    assert overrides(sim) == []
    applied = apply(sim, tmp_path, playbook="serialization-signing")
    assert applied.exit_code == 0, applied.output
    [made] = overrides(sim)
    assert (made["Name"], made["ComponentName"], made["SectionName"], made["Parameters"]) == (
        "EnableSigningVerification",
        "Data",
        "EnableSerializationDataSigning",
        ["Enabled=true"],
    )
    refreshes = [r for r in sim.audit_records() if r.command == "Get-ExchangeDiagnosticInfo"]
    assert sorted(r.server for r in refreshes) == ["ex01", "ex02"]  # every server, once
    assert all(r.parameter("Argument") == "Refresh" for r in refreshes)
    servers = host_args(sim)[: host_args(sim).index("--health-timeout")]
    assert cli(tmp_path, "check", "serialization-signing", *servers, env=credentials(sim)).exit_code == 0
    assert rollback(sim, tmp_path, last_run(tmp_path)["id"]).exit_code == 0
    assert overrides(sim) == []


def test_an_override_of_that_name_with_other_settings_is_left_alone(start_sim: Any, tmp_path: Path) -> None:
    sim = start_sim(servers=1, restart_seconds=0)
    with sim.org.lock:
        sim.org.data.setdefault("setting_overrides", []).append(
            {
                "Name": "EnableSigningVerification",
                "ComponentName": "Data",
                "SectionName": "EnableSerializationDataSigning",
                "Parameters": ["Enabled=false"],
                "Reason": "someone's",
                "ModifiedBy": "contoso.lab/Users/Admin",
                "WhenCreated": "2026-01-01T00:00:00+00:00",
                "Guid": "00000000-0000-0000-0000-000000000001",
            }
        )
        sim.org.save()
    result = apply(sim, tmp_path, playbook="serialization-signing")
    assert result.exit_code == 1 and "setting-override-differs" in result.output
    assert overrides(sim)[0]["Parameters"] == ["Enabled=false"]


def test_serialization_signing_refuses_a_build_without_the_january_2023_update(
    start_sim: Any, tmp_path: Path
) -> None:
    sim = start_sim(Scenario(servers=[Server(name="ex01", build="15.1.2507.6")]), restart_seconds=0)
    servers = host_args(sim)[: host_args(sim).index("--health-timeout")]
    planned = cli(tmp_path, "plan", "serialization-signing", *servers, env=credentials(sim))
    assert planned.exit_code == 1 and "! precondition-failed:" in planned.output
    assert overrides(sim) == []


def test_adding_an_element_keeps_the_files_shape() -> None:
    from remediate.support.xmlinsert import add_element

    data = (
        b'<?xml version="1.0"?>\r\n<c>\r\n    <a>\r\n        <w enabled="true">\r\n            <p />\r\n'
        b'        </w>\r\n    </a>\r\n    <b>\r\n        <w enabled="false" />\r\n    </b>\r\n</c>\r\n'
    )
    one = add_element(data, "/c/a/w/e/@t", "Require", "x").content
    assert one == data.replace(
        b'<w enabled="true">\r\n', b'<w enabled="true">\r\n            <e t="Require" />\r\n'
    )
    two = add_element(one, "/c/b/w/e/@t", "A&B", "x").content
    assert b'        <w enabled="false">\r\n            <e t="A&amp;B" />\r\n        </w>\r\n' in two
    with pytest.raises(RemediateError) as raised:
        add_element(data, "/c/missing/w/e/@t", "x", "x")
    assert raised.value.reference == "xpath-no-parent"


VARIABLE_BOOK = """\
name: tls-protocol
description: Enable one SCHANNEL protocol for the server side.
support: documented
microsoft_source: a test
variables:
  protocol: {type: string, default: TLS 1.2, description: the SCHANNEL protocol key}
  enabled: {type: integer}
steps:
  - name: Enable ${protocol}
    registry_value:
      key: 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\${protocol}\\Server'
      name: Enabled
      value: ${enabled}
"""


def test_playbook_variables_from_the_command_line(start_sim: Any, tmp_path: Path) -> None:
    sim = start_sim(servers=1, restart_seconds=0)
    book = tmp_path / "book.yaml"
    book.write_text(VARIABLE_BOOK, encoding="utf-8")
    servers = host_args(sim)[: host_args(sim).index("--health-timeout")]

    missing = cli(tmp_path, "plan", str(book), *servers, env=credentials(sim))
    assert missing.exit_code == 1 and "error: variable-missing" in missing.output
    assert f"{book}:13:14: steps[0].registry_value.value: enabled has no value" in missing.output
    assert "--var enabled=VALUE" in missing.output
    wrong = cli(tmp_path, "plan", str(book), *servers, "--var", "enabled=yes", env=credentials(sim))
    assert wrong.exit_code == 1 and "enabled must be an integer" in wrong.output
    unknown = cli(tmp_path, "plan", str(book), *servers, "--var", "enabeld=1", env=credentials(sim))
    assert unknown.exit_code == 1 and "declares no variable 'enabeld'" in unknown.output

    planned = cli(
        tmp_path, "plan", str(book), *servers, "--var", "enabled=1", "--output", "json", env=credentials(sim)
    )
    assert planned.exit_code == 0, planned.output
    plan = json.loads(planned.stdout)
    assert plan["variables"] == {"protocol": "TLS 1.2", "enabled": 1}
    [change] = plan["servers"][0]["changes"]
    assert (
        change["target"].endswith("\\Protocols\\TLS 1.2\\Server\\Enabled")
        and change["settings"]["value"] == 1
    )
    assert (
        "variables: protocol='TLS 1.2', enabled=1"
        in cli(tmp_path, "plan", str(book), *servers, "--var", "enabled=1", env=credentials(sim)).output
    )

    saved = tmp_path / "change.plan"
    assert (
        cli(
            tmp_path,
            "plan",
            str(book),
            *servers,
            "--var",
            "enabled=1",
            "--var",
            "protocol=TLS 1.3",
            "--out",
            str(saved),
            env=credentials(sim),
        ).exit_code
        == 0
    )
    applied = cli(tmp_path, "apply", str(saved), "--yes", "--health-timeout", "5", env=credentials(sim))
    assert applied.exit_code == 0, applied.output
    key = "hklm:\\system\\currentcontrolset\\control\\securityproviders\\schannel\\protocols\\tls 1.3\\server"
    assert registry(sim)[key] == {"Enabled": {"kind": "DWord", "value": 1}}
    refused = cli(tmp_path, "apply", str(saved), "--var", "enabled=0", "--yes", env=credentials(sim))
    assert refused.exit_code == 1 and "error: variable-invalid" in refused.output


def test_a_doubled_dollar_is_a_placeholder_s_text() -> None:
    """`$${NAME}` is the text `${NAME}`: neither a value put in nor an undeclared variable."""
    from remediate.model.playbook import parse
    from remediate.model.variables import escape

    text = VARIABLE_BOOK.replace(
        "name: Enable ${protocol}", "name: Enable $${protocol} (${protocol}) $${nope}"
    )
    loaded = parse(text.encode(), "book.yaml", {"enabled": "1"})
    assert loaded.playbook.steps[0].name == "Enable ${protocol} (TLS 1.2) ${nope}"
    assert escape({"a": ["${x} $${y}", 3]}) == {"a": ["$${x} $$${y}", 3]}
    # what escape writes, substitute gives back as it was
    again = text.replace(
        "name: Enable $${protocol} (${protocol}) $${nope}", "name: " + escape("a $${b} ${c}")
    )
    assert parse(again.encode(), "book.yaml", {"enabled": "1"}).playbook.steps[0].name == "a $${b} ${c}"


def test_playbook_variables_from_the_inventory(start_sim: Any, tmp_path: Path) -> None:
    import yaml

    sim = start_sim(servers=1, restart_seconds=0)
    book = tmp_path / "book.yaml"
    book.write_text(VARIABLE_BOOK, encoding="utf-8")
    endpoint = sim.servers["ex01"]
    inventory = tmp_path / "inventory.yaml"
    document = {
        "defaults": {"ca_file": str(sim.ca_file), "username": sim.username},
        "servers": {"ex01": {"host": endpoint.host, "port": endpoint.port}},
        "vars": {"enabled": 0, "for_another_playbook": "x"},  # a name this playbook lacks is fine here
    }
    inventory.write_text(yaml.safe_dump(document), encoding="utf-8")
    env = {"REMEDIATE_PASSWORD": sim.password}
    planned = cli(tmp_path, "plan", str(book), "-i", str(inventory), "--output", "json", env=env)
    assert planned.exit_code == 0, planned.output
    assert json.loads(planned.stdout)["variables"] == {"protocol": "TLS 1.2", "enabled": 0}
    wins = cli(
        tmp_path, "plan", str(book), "-i", str(inventory), "--var", "enabled=1", "--output", "json", env=env
    )
    assert json.loads(wins.stdout)["variables"]["enabled"] == 1  # --var wins over the inventory


def test_tls12_refuses_a_build_before_exchange_2016(start_sim: Any, tmp_path: Path) -> None:
    sim = start_sim(Scenario(servers=[Server(name="ex01", build="15.0.1497.2")]), restart_seconds=0)
    before = registry(sim)
    servers = host_args(sim)[: host_args(sim).index("--health-timeout")]
    planned = cli(tmp_path, "plan", "tls12", *servers, env=credentials(sim))
    assert planned.exit_code == 1 and "! precondition-failed:" in planned.output
    assert apply(sim, tmp_path, playbook="tls12").exit_code == 1 and registry(sim) == before


def two_server_inventory(sim: Simulator, tmp_path: Path, **extra: Any) -> Path:
    import yaml

    document: dict[str, Any] = {
        "defaults": {"ca_file": str(sim.ca_file), "username": sim.username},
        "servers": {
            name: {"host": endpoint.host, "port": endpoint.port} for name, endpoint in sim.servers.items()
        },
        **extra,
    }
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump(document), encoding="utf-8")
    return inventory


def test_playbook_variables_per_server_and_group(start_sim: Any, tmp_path: Path) -> None:
    """A server's own value wins over its group's, which wins over every server's; each server's
    change is made with its value, shown in the plan, kept in a saved plan and applied so."""
    sim = start_sim(servers=3, restart_seconds=0)
    book = tmp_path / "book.yaml"
    book.write_text(VARIABLE_BOOK.replace("name: Enable ${protocol}", "name: Enable it"), encoding="utf-8")
    inventory = two_server_inventory(
        sim,
        tmp_path,
        groups={"site-b": ["ex02", "ex03"]},
        vars={"enabled": 1},
        group_vars={"site-b": {"protocol": "TLS 1.3"}},
    )
    document = __import__("yaml").safe_load(inventory.read_text(encoding="utf-8"))
    document["servers"]["ex03"]["vars"] = {"enabled": 0}
    inventory.write_text(__import__("yaml").safe_dump(document), encoding="utf-8")
    env = {"REMEDIATE_PASSWORD": sim.password}

    planned = cli(tmp_path, "plan", str(book), "-i", str(inventory), "--output", "json", env=env)
    assert planned.exit_code == 0, planned.output
    plan = json.loads(planned.stdout)
    assert plan["variables"] == {"protocol": "TLS 1.2", "enabled": 1}
    by_server = {s["server"]: s for s in plan["servers"]}
    assert by_server["ex01"]["variables"] == {}
    assert by_server["ex02"]["variables"] == {"protocol": "TLS 1.3"}
    assert by_server["ex03"]["variables"] == {"protocol": "TLS 1.3", "enabled": 0}
    targets = {name: s["changes"][0]["target"] for name, s in by_server.items()}
    assert "\\TLS 1.2\\Server" in targets["ex01"] and "\\TLS 1.3\\Server" in targets["ex02"]
    assert by_server["ex03"]["changes"][0]["settings"]["value"] == 0
    text = cli(tmp_path, "plan", str(book), "-i", str(inventory), env=env).output
    assert "variables here: protocol='TLS 1.3', enabled=0" in text

    saved = tmp_path / "change.plan"
    assert cli(tmp_path, "plan", str(book), "-i", str(inventory), "--out", str(saved), env=env).exit_code == 0
    applied = cli(tmp_path, "apply", str(saved), "--yes", "--health-timeout", "5", env=env)
    assert applied.exit_code == 0, applied.output
    tls = (
        "hklm:\\system\\currentcontrolset\\control\\securityproviders\\schannel\\protocols\\tls 1.{}\\server"
    )
    assert registry(sim, "ex01")[tls.format(2)] == {"Enabled": {"kind": "DWord", "value": 1}}
    assert registry(sim, "ex02")[tls.format(3)] == {"Enabled": {"kind": "DWord", "value": 1}}
    assert registry(sim, "ex03")[tls.format(3)] == {"Enabled": {"kind": "DWord", "value": 0}}
    assert tls.format(2) not in registry(sim, "ex03")

    # a step's name may not change per server: the journal and the records know it by its name
    book.write_text(VARIABLE_BOOK, encoding="utf-8")
    renamed = cli(tmp_path, "plan", str(book), "-i", str(inventory), env=env)
    assert renamed.exit_code == 1 and "error: variable-per-server" in renamed.output
    assert "a step keeps one name on every server" in renamed.output


def test_conflicting_group_values_and_a_bad_server_value_are_clear_errors(
    start_sim: Any, tmp_path: Path
) -> None:
    sim = start_sim(servers=2, restart_seconds=0)
    book = tmp_path / "book.yaml"
    book.write_text(VARIABLE_BOOK, encoding="utf-8")
    env = {"REMEDIATE_PASSWORD": sim.password}
    both = two_server_inventory(
        sim,
        tmp_path,
        groups={"a": ["ex01"], "b": ["ex01", "ex02"]},
        group_vars={"a": {"enabled": 1}, "b": {"enabled": 0}},
    )
    refused = cli(tmp_path, "plan", str(book), "-i", str(both), env=env)
    assert refused.exit_code == 1 and "server 'ex01' is in groups 'a' and 'b'" in refused.output
    # every server has its own value, none for all: fine
    each = two_server_inventory(
        sim,
        tmp_path,
        groups={"a": ["ex01"], "b": ["ex02"]},
        group_vars={"a": {"enabled": 1}, "b": {"enabled": 0}},
    )
    planned = cli(tmp_path, "plan", str(book), "-i", str(each), "--output", "json", env=env)
    assert planned.exit_code == 0, planned.output
    values = {
        s["server"]: s["changes"][0]["settings"]["value"] for s in json.loads(planned.stdout)["servers"]
    }
    assert values == {"ex01": 1, "ex02": 0}
    bad = two_server_inventory(sim, tmp_path, vars={"enabled": 1})
    document = __import__("yaml").safe_load(bad.read_text(encoding="utf-8"))
    document["servers"]["ex02"]["vars"] = {"enabled": "yes"}
    bad.write_text(__import__("yaml").safe_dump(document), encoding="utf-8")
    refused = cli(tmp_path, "plan", str(book), "-i", str(bad), env=env)
    assert refused.exit_code == 1
    assert "the inventory's vars for ex02: enabled must be an integer, not 'yes'" in refused.output


def test_an_organization_step_refuses_a_value_that_differs_per_server(start_sim: Any, tmp_path: Path) -> None:
    sim = start_sim(servers=2, restart_seconds=0)
    book = tmp_path / "org.yaml"
    book.write_text(
        "name: org-var\ndescription: d\nsupport: documented\nmicrosoft_source: a test\n"
        "variables:\n  perms: {type: string, default: 'Mail.Read'}\n"
        "steps:\n  - name: Copy\n    exchange_object:\n      noun: PartnerApplication\n"
        "      identity: Microsoft Graph\n      property: AppOnlyPermissions\n      value: ['${perms}']\n",
        encoding="utf-8",
    )
    inventory = two_server_inventory(sim, tmp_path)
    document = __import__("yaml").safe_load(inventory.read_text(encoding="utf-8"))
    document["servers"]["ex02"]["vars"] = {"perms": "Mail.Send"}
    inventory.write_text(__import__("yaml").safe_dump(document), encoding="utf-8")
    refused = cli(tmp_path, "plan", str(book), "-i", str(inventory), env={"REMEDIATE_PASSWORD": sim.password})
    assert refused.exit_code == 1, refused.output
    assert "error: variable-per-server" in refused.output and "on ex02 perms has another" in refused.output


def test_variables_from_a_file(start_sim: Any, tmp_path: Path) -> None:
    sim = start_sim(servers=1, restart_seconds=0)
    book = tmp_path / "book.yaml"
    book.write_text(VARIABLE_BOOK, encoding="utf-8")
    servers = host_args(sim)[: host_args(sim).index("--health-timeout")]
    values = tmp_path / "values.yaml"
    values.write_text("enabled: 1\nprotocol: TLS 1.3\n", encoding="utf-8")
    planned = cli(
        tmp_path,
        "plan",
        str(book),
        *servers,
        "--var-file",
        str(values),
        "--var",
        "enabled=0",
        "--output",
        "json",
        env=credentials(sim),
    )
    assert planned.exit_code == 0, planned.output
    assert json.loads(planned.stdout)["variables"] == {"protocol": "TLS 1.3", "enabled": 0}  # --var wins
    values.write_text("enabled: 1\nprotocol: [TLS 1.3]\n", encoding="utf-8")
    bad = cli(tmp_path, "plan", str(book), *servers, "--var-file", str(values), env=credentials(sim))
    assert bad.exit_code == 1 and f"{values}:2:11: protocol must be text" in bad.output


@pytest.mark.parametrize(
    ("forged", "expected"),
    [
        ({"ex02": {"enabled": "0"}}, "plan-tampered"),  # another value than the reviewed one
        ({"ex02": {"nosuch": "0"}}, "declares no variable 'nosuch'"),
        ({"ex02": {"enabled": "yes"}}, "enabled must be an integer"),
    ],
)
def test_forged_per_server_values_in_a_saved_plan_write_nothing(
    start_sim: Any, tmp_path: Path, forged: dict[str, Any], expected: str
) -> None:
    from remediate.model.saved_plan import _digest

    sim = start_sim(servers=2, restart_seconds=0)
    book = tmp_path / "book.yaml"
    book.write_text(VARIABLE_BOOK, encoding="utf-8")
    inventory = two_server_inventory(sim, tmp_path, vars={"enabled": 1})
    env = {"REMEDIATE_PASSWORD": sim.password}
    saved = tmp_path / "change.plan"
    assert cli(tmp_path, "plan", str(book), "-i", str(inventory), "--out", str(saved), env=env).exit_code == 0
    document = json.loads(saved.read_text(encoding="utf-8"))
    document["playbook"]["server_variables"] = forged
    document["digest"] = _digest(document)
    saved.write_text(json.dumps(document), encoding="utf-8")
    before = {name: registry(sim, name) for name in ("ex01", "ex02")}
    result = cli(tmp_path, "apply", str(saved), "--yes", "--health-timeout", "5", env=env)
    assert result.exit_code == 1 and expected in result.output, result.output
    assert "unexpected" not in result.output
    assert {name: registry(sim, name) for name in ("ex01", "ex02")} == before
