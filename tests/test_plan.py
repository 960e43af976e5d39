"""`remediate plan` and `apply --dry-run` against the simulator, end to end (pypsrp, real sockets)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from remediate.cli import main
from remediate.sim import Scenario, Simulator, Unreachable
from remediate.sim.audit import WRITING_CMDLETS, AuditTrail
from remediate.sim.scenario import (
    GRAPH_ACT_AS_PERMISSIONS,
    PartnerApplication,
    Rbac,
    Server,
    ServerDefaults,
    WebConfig,
)

WEB_CONFIG = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\rest\\web.config"
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "css-exchange"


def remediate(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def against(
    sim: Simulator, *args: str, servers: list[str] | None = None, password: str | None = None
) -> Result:
    """Run remediate against a running simulator, as an administrator would against real servers."""
    hosts = []
    for name in servers or list(sim.servers):
        endpoint = sim.servers[name]
        hosts += ["--host", f"{endpoint.host}:{endpoint.port}"]
    exchange_port = ["--exchange-port", str(sim.servers[(servers or list(sim.servers))[0]].port)]
    env = {"REMEDIATE_USERNAME": sim.username, "REMEDIATE_PASSWORD": password or sim.password}
    return remediate(*args, *hosts, "--ca-file", str(sim.ca_file), *exchange_port, env=env)


def writes(sim: Simulator) -> list[str]:
    return [r.command for r in sim.audit_records() if r.command.lower() in WRITING_CMDLETS]


FIXED = Scenario(
    server_defaults=ServerDefaults(rest_web_config=WebConfig(state="fixed")),
    partner_applications=[
        PartnerApplication(
            name="Microsoft Graph",
            application_identifier="00000003-0000-0000-c000-000000000000",
            act_as_permissions=list(GRAPH_ACT_AS_PERMISSIONS),
            app_only_permissions=list(reversed(GRAPH_ACT_AS_PERMISSIONS)),  # same set, other order
        )
    ],
)


# -- the plan ----------------------------------------------------------------------------------------


def test_plan_for_a_default_server_shows_both_changes_and_the_restart(start_sim: Any) -> None:
    sim = start_sim()
    result = against(sim, "plan", "app-only-graph")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "~ Add V1S2SAppOnly to the REST front end's OAuth token profiles" in out
    assert f"{WEB_CONFIG}: adds V1S2SAppOnly" in out
    assert (
        '+    <add key="OAuthHttpModule.Profiles" value="S2SAppActAs|S2SAppOnly|V1AppActAs|V1AppOnly|Callback|V1S2SActAs|CallbackV2|V1S2SAppOnly" />'
        in out
    )
    assert "sets AppOnlyPermissions from (empty) to 29 values" in out and "+ Mail.Read" in out
    assert "handler restart-iis: Restart-Service -Name W3SVC,WAS -Force" in out
    assert "Unsupported by Microsoft" in out
    host = f"127.0.0.1:{sim.servers['ex01'].port}"
    assert out.rstrip().endswith(
        f"Plan: 2 to change, 0 unchanged, 0 errors on 1 server. Handlers to run: restart-iis on {host}."
    )
    assert writes(sim) == []


def test_plan_as_json_says_the_same(start_sim: Any) -> None:
    sim = start_sim()
    result = against(sim, "plan", "app-only-graph", "--output", "json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    [server] = plan["servers"]
    [token] = server["changes"]
    assert token["action"] == "change" and token["after"].endswith("|CallbackV2|V1S2SAppOnly")
    [permissions] = plan["organization"]["changes"]
    assert permissions["before"] is None and permissions["after"] == list(GRAPH_ACT_AS_PERMISSIONS)
    assert plan["organization"]["via"] == "127.0.0.1:" + str(sim.servers["ex01"].port)
    assert server["handlers"][0]["commands"] == ["Restart-Service -Name W3SVC,WAS -Force"]
    assert plan["summary"] == {"change": 2, "unchanged": 0, "errors": 0}


def test_an_already_fixed_server_needs_no_change(start_sim: Any) -> None:
    sim = start_sim(FIXED)
    result = against(sim, "apply", "app-only-graph", "--dry-run")
    assert result.exit_code == 0, result.output
    assert (
        "= Add V1S2SAppOnly" in result.output and "no change (V1S2SAppOnly already present)" in result.output
    )
    assert "no change (AppOnlyPermissions already 29 values)" in result.output
    assert "handler" not in result.output
    assert "Plan: 0 to change, 2 unchanged, 0 errors on 1 server." in result.output


def test_dry_run_and_plan_write_nothing(start_sim: Any) -> None:
    sim = start_sim(servers=2)
    before = {name: sim.state(name).data["files"] for name in sim.servers}
    for args in (["plan", "app-only-graph"], ["apply", "app-only-graph", "--dry-run"]):
        for exchange in ("snapin", "remote"):
            against(sim, *args, "--exchange", exchange)
    assert writes(sim) == []
    commands = {r.command for r in sim.audit_records()}
    assert commands <= {
        "Get-ItemProperty",
        "Get-Item",
        "Get-Content",
        "Add-PSSnapin",
        "Get-OrganizationConfig",  # the preflight of the Exchange access
        "Get-PartnerApplication",
        "Get-ManagementRoleEntry",
        "Get-ChildItem",  # the runs the server records: which one last changed each target
    }
    assert {name: sim.state(name).data["files"] for name in sim.servers} == before


def test_two_servers_one_organization(start_sim: Any) -> None:
    sim = start_sim(servers=2)
    result = against(sim, "plan", "app-only-graph", "--output", "json")
    plan = json.loads(result.output)
    assert [len(s["changes"]) for s in plan["servers"]] == [1, 1]
    assert len(plan["organization"]["changes"]) == 1
    assert [s["handlers"][0]["name"] for s in plan["servers"]] == ["restart-iis", "restart-iis"]
    partner_reads = [r for r in sim.audit_records() if r.command == "Get-PartnerApplication"]
    assert [r.server for r in partner_reads] == ["ex01"]


def test_one_pool_per_server_and_no_repeated_reads(start_sim: Any) -> None:
    sim = start_sim(Scenario(rbac=Rbac(app_only_permissions=True)))
    sim.counters.reset()
    against(sim, "plan", "app-only-graph", "--exchange", "remote")
    counts = sim.counters_for("ex01")["actions"]
    assert counts["Create"] == 2 and counts["Delete"] == 2  # /wsman and /PowerShell, once each
    reads = [r.command for r in sim.audit_records()]
    # environment, build, web.config, the Exchange access (Get-OrganizationConfig), the role
    # entry, the partner application and the runs recorded on the server: each read once
    assert len(reads) == len(set(reads)) == 7


def test_near_miss_tokens_are_pointed_out(start_sim: Any) -> None:
    sim = start_sim(Scenario(servers=[Server(name="ex01", files={})]))
    with sim.state("ex01").lock:
        path = sim.machine("ex01").path(WEB_CONFIG, "C:\\")
        content = sim.state("ex01").read(path).replace(b'CallbackV2"', b'CallbackV2| V1S2SAppOnly"')
        sim.state("ex01").write(path, content)
    result = against(sim, "plan", "rest-v1s2s-profile")
    assert (
        "adds V1S2SAppOnly; note ' V1S2SAppOnly' is not V1S2SAppOnly (Exchange does not trim)"
        in result.output
    )


def test_a_server_without_exchange_install_path_is_named(start_sim: Any) -> None:
    sim = start_sim(servers=2)
    with sim.state("ex02").lock:
        del sim.state("ex02").data["environment"]["exchangeinstallpath"]
    result = against(sim, "plan", "rest-v1s2s-profile")
    second = f"{sim.servers['ex02'].host}:{sim.servers['ex02'].port}"
    assert f"{second}: %ExchangeInstallPath% is not set" in result.output, result.output
    assert "is Exchange installed on this server?" in result.output
    assert "Plan: 1 to change, 0 unchanged, 1 error on 2 servers." in result.output


# -- errors that explain themselves ---------------------------------------------------------------------


def _one_screen_error(result: Result, reference: str, hint: str) -> None:
    assert result.exit_code == 1, result.output
    # a command's error ("error: REF"), or a problem in the plan ("! REF:", as the README says)
    assert f"error: {reference}" in result.output or f"! {reference}:" in result.output
    assert hint in result.output
    assert "Traceback" not in result.output
    assert len(result.output.splitlines()) <= 40


def test_missing_app_only_permissions_parameter_on_the_remote_endpoint(start_sim: Any) -> None:
    sim = start_sim()
    result = against(sim, "plan", "app-only-graph", "--exchange", "remote")
    _one_screen_error(result, "precondition-failed", "use --exchange snapin")
    assert (
        "Get-ManagementRoleEntry '*\\Set-PartnerApplication' -Parameters AppOnlyPermissions finds nothing"
        in result.output
    )


def test_a_playbook_without_the_precondition_meets_it_at_the_step(start_sim: Any, tmp_path: Path) -> None:
    sim = start_sim()
    text = (Path(__file__).resolve().parents[1] / "playbooks" / "graph-app-only-permissions.yaml").read_text()
    book = tmp_path / "no-preflight.yaml"
    book.write_text(
        text.replace("preconditions:\n  - exchange_parameter:", "# - exchange_parameter:"), encoding="utf-8"
    )
    result = against(sim, "plan", str(book), "--exchange", "remote")
    _one_screen_error(result, "exchange-parameter-unavailable", "use --exchange snapin")
    assert (
        "Get-ManagementRoleEntry '*\\Set-PartnerApplication' -Parameters AppOnlyPermissions" in result.output
    )


def test_remote_endpoint_with_the_role_entry_granted(start_sim: Any) -> None:
    sim = start_sim(Scenario(rbac=Rbac(app_only_permissions=True)))
    result = against(sim, "plan", "app-only-graph", "--exchange", "remote")
    assert result.exit_code == 0 and "sets AppOnlyPermissions from (empty) to 29 values" in result.output


def test_wrong_password(start_sim: Any) -> None:
    sim = start_sim()
    result = against(sim, "plan", "app-only-graph", password="not-the-password-123")
    _one_screen_error(result, "authentication-failed", "REMEDIATE_PASSWORD")
    assert "not-the-password-123" not in result.output


def test_unreachable_host(start_sim: Any) -> None:
    sim = start_sim()
    sim.inject(Unreachable(mode="refuse"))
    _one_screen_error(against(sim, "plan", "app-only-graph"), "host-unreachable", "firewall")


def test_untrusted_certificate(start_sim: Any) -> None:
    sim = start_sim()
    endpoint = sim.servers["ex01"]
    env = {"REMEDIATE_USERNAME": sim.username, "REMEDIATE_PASSWORD": sim.password}
    result = remediate("plan", "app-only-graph", "--host", f"127.0.0.1:{endpoint.port}", env=env)
    _one_screen_error(result, "certificate-untrusted", "--ca-file")


def test_bad_playbook(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: typo\ndescription: x\nsteps:\n  - name: s\n    xml_token:\n      path: p\n      xpath: /a/@b\n"
        "      token: T\n      seperator: ';'\n",
        encoding="utf-8",
    )
    result = remediate("plan", str(bad), "--host", "ex01")
    _one_screen_error(result, "playbook-invalid", "did you mean 'separator'?")
    assert f"{bad}:9:7: steps[0].xml_token.seperator: unknown key 'seperator'" in result.output


def test_bad_xpath_in_a_playbook(tmp_path: Path) -> None:
    bad = tmp_path / "xpath.yaml"
    bad.write_text(
        "name: bad-xpath\ndescription: x\nsteps:\n  - name: s\n    xml_token:\n      path: p\n"
        '      xpath: "/configuration/[@key"\n      token: T\n',
        encoding="utf-8",
    )
    result = remediate("validate", str(bad))
    _one_screen_error(result, "playbook-invalid", "schema")
    assert "xpath.yaml:7:14: steps[0].xml_token.xpath: not a valid XPath" in result.output


def test_xpath_that_matches_nothing_on_the_server(start_sim: Any, tmp_path: Path) -> None:
    sim = start_sim()
    playbook = tmp_path / "nothing.yaml"
    playbook.write_text(
        "name: nothing\ndescription: x\nsteps:\n  - name: Set a missing key\n    xml_token:\n"
        "      path: '%ExchangeInstallPath%FrontEnd\\HttpProxy\\rest\\web.config'\n"
        "      xpath: \"/configuration/appSettings/add[@key='NoSuchKey']/@value\"\n      token: T\n",
        encoding="utf-8",
    )
    result = against(sim, "plan", str(playbook))
    _one_screen_error(result, "xpath-no-match", "check the XPath")


def test_malformed_web_config(start_sim: Any) -> None:
    sim = start_sim()
    with sim.state("ex01").lock:
        path = sim.machine("ex01").path(WEB_CONFIG, "C:\\")
        sim.state("ex01").write(path, sim.state("ex01").read(path)[:-40])
    result = against(sim, "plan", "rest-v1s2s-profile")
    _one_screen_error(result, "xml-not-well-formed", "restore it from a backup")
    assert writes(sim) == []


def test_precondition_refuses_an_old_build(start_sim: Any) -> None:
    sim = start_sim(Scenario(server_defaults=ServerDefaults(build="15.1.466.34")))
    result = against(sim, "plan", "app-only-graph")
    _one_screen_error(result, "precondition-failed", "update the server")
    assert (
        "runs Exchange 2016 CU2 (15.1.466.34); this playbook needs Exchange 2016 CU3 (15.1.544.27) or later"
        in result.output
    )


def test_unknown_playbook_suggests_the_nearest() -> None:
    result = remediate("plan", "app-only-grpah", "--host", "ex01")
    _one_screen_error(result, "playbook-not-found", "did you mean 'app-only-graph'?")


def test_password_is_never_taken_from_the_command_line() -> None:
    result = remediate("plan", "app-only-graph", "--host", "ex01", "--password", "x")
    assert result.exit_code == 2 and "No such option '--password'" in result.output


# -- the embedded simulator ------------------------------------------------------------------------------


def test_host_sim_works_out_of_the_box(tmp_path: Path) -> None:
    result = remediate("--state-dir", str(tmp_path), "apply", "app-only-graph", "--host", "sim", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Plan: 2 to change, 0 unchanged, 0 errors on 1 server." in result.output
    audit = AuditTrail.read(tmp_path / "sim" / "audit.jsonl")
    assert audit and not [r for r in audit if r.writes]


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared/fixtures/css-exchange is not present")
def test_the_real_microsoft_web_config_plans_a_one_line_change(start_sim: Any) -> None:
    sim = start_sim()
    real = (FIXTURES / "E19_Exchange_IIS_DefaultWebSite-Rest_web.config").read_bytes().replace(b"\n", b"\r\n")
    with sim.state("ex01").lock:
        sim.state("ex01").write(sim.machine("ex01").path(WEB_CONFIG, "C:\\"), real)
    plan = json.loads(against(sim, "plan", "rest-v1s2s-profile", "--output", "json").output)
    diff = plan["servers"][0]["changes"][0]["diff"]
    assert [line[0] for line in diff.splitlines()[2:] if line[:1] in "+-"] == ["-", "+"]


def test_missing_partner_application(start_sim: Any) -> None:
    sim = start_sim(Scenario(partner_applications=[]))
    result = against(sim, "plan", "app-only-graph")
    _one_screen_error(result, "exchange-object-missing", "Get-PartnerApplication lists what exists")
    assert "PartnerApplication 'Microsoft Graph' does not exist in the organization" in result.output


def test_kerberos_without_a_ticket_or_a_password(tmp_path: Path) -> None:
    """No ticket in the cache (or no gssapi) and no password: refused before connecting."""
    result = remediate(
        "--state-dir",
        str(tmp_path),
        "plan",
        "rest-v1s2s-profile",
        "--host",
        "sim",
        "--auth",
        "kerberos",
        env={"KRB5CCNAME": f"FILE:{tmp_path / 'no-such-cache'}", "REMEDIATE_PASSWORD": ""},
    )
    _one_screen_error(result, "kerberos-no-ticket", "kinit")


def test_basic_over_http_is_refused_before_connecting(tmp_path: Path) -> None:
    result = remediate(
        "--state-dir",
        str(tmp_path),
        "plan",
        "app-only-graph",
        "--host",
        "sim",
        "--transport",
        "http",
        "--auth",
        "basic",
    )
    _one_screen_error(result, "basic-over-http", "--transport https")
    assert not (tmp_path / "sim").exists()


def test_http_transport_with_message_encryption(tmp_path: Path) -> None:
    result = remediate(
        "--state-dir", str(tmp_path), "plan", "app-only-graph", "--host", "sim", "--transport", "http"
    )
    assert result.exit_code == 0 and "Plan: 2 to change" in result.output
