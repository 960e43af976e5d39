"""extended-protection: Microsoft's values and prerequisites, on the real applicationHost.config,
through pypsrp against the simulator; each prerequisite failing refuses the whole run (issue 17)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from remediate.kinds.preconditions.exchange_build import parse_build, supported
from remediate.kinds.resources.xml_attributes import Setting, XmlAttributes, edit_all, with_flags
from remediate.sim.scenario import Scenario, Server
from remediate.support import xmledit
from remediate.support.xpath import caseless
from tests.test_apply import apply, cli, credentials, host_args, last_run, rollback
from tests.test_catalogue import FIXTURES, file_bytes

APPHOST = "C:\\Windows\\System32\\inetsrv\\config\\applicationHost.config"
NET = (
    "HKLM:\\SOFTWARE\\Microsoft\\.NETFramework\\v4.0.30319",
    "HKLM:\\SOFTWARE\\Wow6432Node\\Microsoft\\.NETFramework\\v4.0.30319",
)
TLS10 = "HKLM:\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.0\\Server"


def real_application_host_config() -> str:
    path = FIXTURES / "E19_Exchange_IIS_applicationHost.config"
    if not path.exists():
        pytest.skip("../shared/fixtures/css-exchange is not present")
    return path.read_text(encoding="utf-8")


def ready(name: str, **settings: Any) -> Server:
    """A server that meets Microsoft's prerequisites: .NET set for TLS 1.2 (what tls12 sets), SSL
    offloading off, the real applicationHost.config; `settings` spoil one."""
    registry: dict[str, dict[str, int | str]] = {
        key: {"SystemDefaultTlsVersions": 1, "SchUseStrongCrypto": 1} for key in NET
    }
    registry.update(settings.pop("registry", {}))
    fields: dict[str, Any] = {"ssl_offloading": False, "files": {APPHOST: real_application_host_config()}}
    fields.update(settings)
    return Server(name=name, registry=registry, **fields)


def plan(sim: Any, tmp_path: Path) -> Any:
    servers = host_args(sim)[: host_args(sim).index("--health-timeout")]
    return cli(tmp_path, "plan", "extended-protection", *servers, env=credentials(sim))


def test_extended_protection_on_the_real_application_host_config(start_sim: Any, tmp_path: Path) -> None:
    from lxml import etree

    sim = start_sim(Scenario(servers=[ready("ex01")]), restart_seconds=0)
    before = file_bytes(sim, "ex01", APPHOST)
    assert apply(sim, tmp_path, playbook="extended-protection").exit_code == 0
    after = file_bytes(sim, "ex01", APPHOST)
    tree = etree.fromstring(after)

    def value(path: str, attribute: str) -> str | None:
        found = tree.xpath(f"/configuration/location[@path='{path}']/system.webServer/security/{attribute}")
        return str(found[0]) if found else None

    def token(path: str) -> str | None:
        return value(path, "authentication/windowsAuthentication/extendedProtection/@tokenChecking")

    assert token("Default Web Site/ecp") == "Require"  # added under a windowsAuthentication with children
    assert token("Default Web Site/API") == "Require"  # added under an empty <windowsAuthentication ... />
    assert token("Default Web Site/EWS") == "Allow"  # an existing element's value, changed
    assert token("Exchange Back End/EWS") == "Require"
    assert token("Default Web Site/Autodiscover") == "None"  # left as Microsoft sets it
    assert token("Default Web Site/PowerShell") is None
    # sslFlags as Microsoft's script sets them: the missing flags added to what applies
    assert value("Default Web Site/Rpc", "access/@sslFlags") == "Ssl, Ssl128"  # was None
    assert value("Exchange Back End/mapi/emsmdb", "access/@sslFlags") == "Ssl, Ssl128"  # was Ssl
    assert (
        value("Exchange Back End/PowerShell", "access/@sslFlags") == "Ssl, SslNegotiateCert, Ssl128"
    )  # kept
    assert value("Default Web Site/owa", "access/@sslFlags") is None  # inherits the site's Ssl, Ssl128
    # every other byte is where it was
    old_lines, new_lines = before.decode("utf-8").splitlines(), after.decode("utf-8").splitlines()
    added = [line for line in new_lines if line not in old_lines]
    assert added and all(
        "extendedProtection" in line or "windowsAuthentication" in line or 'sslFlags="Ssl, Ssl128"' in line
        for line in added
    )
    removed = [line for line in old_lines if line not in new_lines]
    assert removed and all(
        ("windowsAuthentication" in line and line.rstrip().endswith("/>"))
        or 'sslFlags="None"' in line
        or 'sslFlags="Ssl"' in line
        for line in removed
    )
    servers = host_args(sim)[: host_args(sim).index("--health-timeout")]
    assert cli(tmp_path, "check", "extended-protection", *servers, env=credentials(sim)).exit_code == 0
    assert rollback(sim, tmp_path, last_run(tmp_path)["id"]).exit_code == 0
    assert file_bytes(sim, "ex01", APPHOST) == before


@pytest.mark.parametrize(
    ("build", "passes"),
    [
        ("15.2.1118.7", False),  # Exchange 2019 CU12 without the August 2022 update: later than CU11's
        ("15.2.1118.12", True),
        ("15.2.986.29", True),
        ("15.2.986.26", False),
        ("15.2.922.7", False),  # CU10: no update of it is listed
        ("15.2.1258.12", True),  # a later CU
        ("15.1.2507.6", False),
        ("15.1.2375.31", True),
    ],
)
def test_the_build_minimum_is_per_cumulative_update(build: str, passes: bool) -> None:
    minimums = [parse_build(b) for b in ("15.2.1118.12", "15.2.986.29", "15.1.2507.12", "15.1.2375.31")]
    assert (supported(parse_build(build), minimums) is None) is passes


def test_a_cu12_build_without_the_august_2022_update_refuses_on_the_server(
    start_sim: Any, tmp_path: Path
) -> None:
    sim = start_sim(Scenario(servers=[ready("ex01", build="15.2.1118.7")]), restart_seconds=0)
    planned = plan(sim, tmp_path)
    assert planned.exit_code == 1 and "! precondition-failed:" in planned.output
    assert "needs at least 15.2.1118.12 on that cumulative update" in planned.output


def test_ssl_offloading_on_refuses_naming_the_command(start_sim: Any, tmp_path: Path) -> None:
    sim = start_sim(Scenario(servers=[ready("ex01", ssl_offloading=True)]), restart_seconds=0)
    before = file_bytes(sim, "ex01", APPHOST)
    planned = plan(sim, tmp_path)
    assert planned.exit_code == 1 and "! precondition-failed:" in planned.output
    assert "'EX01\\Rpc (Default Web Site)' has SSLOffloading True" in planned.output
    assert "Set-OutlookAnywhere 'EX01\\Rpc (Default Web Site)' -SSLOffloading $false" in " ".join(
        planned.output.split()
    )
    assert apply(sim, tmp_path, playbook="extended-protection").exit_code != 0
    assert file_bytes(sim, "ex01", APPHOST) == before


def test_tls_settings_that_differ_between_servers_refuse_the_whole_run(
    start_sim: Any, tmp_path: Path
) -> None:
    sim = start_sim(
        Scenario(servers=[ready("ex01"), ready("ex02"), ready("ex03", registry={TLS10: {"Enabled": 0}})]),
        restart_seconds=0,
    )
    before = {name: file_bytes(sim, name, APPHOST) for name in ("ex01", "ex02", "ex03")}
    planned = plan(sim, tmp_path)
    assert planned.exit_code == 1
    text = " ".join(planned.output.split())
    ex01, ex02, ex03 = (f"{sim.servers[n].host}:{sim.servers[n].port}" for n in ("ex01", "ex02", "ex03"))
    assert f"{ex03} has a TLS configuration that differs from the other servers'" in text
    assert f"TLS 1.0\\Server\\Enabled is 0 here, missing on {ex01}, {ex02}" in text
    assert text.count("precondition-failed") == 1  # ex01 and ex02 agree: only ex03 is named
    assert apply(sim, tmp_path, playbook="extended-protection").exit_code != 0
    assert {name: file_bytes(sim, name, APPHOST) for name in before} == before  # not even ex01


@pytest.mark.parametrize(
    ("spoiled", "expected"),
    [
        (
            {
                "registry": {
                    "HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Lsa": {"SuppressExtendedProtection": 1}
                }
            },
            "SuppressExtendedProtection is 1",
        ),
        ({"registry": {NET[1]: {"SchUseStrongCrypto": 0}}}, "apply the tls12 playbook first"),
    ],
)
def test_a_registry_prerequisite_refuses(
    start_sim: Any, tmp_path: Path, spoiled: dict[str, Any], expected: str
) -> None:
    sim = start_sim(Scenario(servers=[ready("ex01", **spoiled)]), restart_seconds=0)
    planned = plan(sim, tmp_path)
    assert planned.exit_code == 1 and "! precondition-failed:" in planned.output
    assert expected in " ".join(planned.output.split())


def test_the_default_simulated_server_is_not_ready(start_sim: Any, tmp_path: Path) -> None:
    """Exchange's defaults (SSL offloading on; .NET not set for TLS 1.2) do not meet Microsoft's
    prerequisites: the playbook refuses and says both."""
    sim = start_sim(Scenario(servers=[Server(name="ex01")]), restart_seconds=0)
    text = " ".join(plan(sim, tmp_path).output.split())
    assert "SchUseStrongCrypto is 0" in text and "SSLOffloading True" in text


# -- the edit itself ---------------------------------------------------------------------------------


def test_flags_are_added_after_the_others_and_none_is_replaced() -> None:
    wanted = ["Ssl", "Ssl128"]
    assert with_flags("Ssl, SslNegotiateCert, Ssl128", wanted) == "Ssl, SslNegotiateCert, Ssl128"
    assert with_flags("None", wanted) == "Ssl, Ssl128"
    assert with_flags("", wanted) == "Ssl, Ssl128"
    assert with_flags("Ssl", wanted) == "Ssl, Ssl128"
    assert with_flags("Ssl,SslRequireCert", wanted) == "Ssl,SslRequireCert, Ssl128"


CONFIG = (
    b'<?xml version="1.0"?>\r\n<configuration>\r\n'
    b'    <location path="Default Web Site">\r\n        <system.webServer>\r\n            <security>\r\n'
    b'                <access sslFlags="Ssl, Ssl128" />\r\n            </security>\r\n        </system.webServer>\r\n'
    b"    </location>\r\n"
    b'    <location path="Default Web Site/OWA">\r\n        <system.webServer>\r\n            <security>\r\n'
    b"                <authentication />\r\n            </security>\r\n        </system.webServer>\r\n"
    b"    </location>\r\n</configuration>\r\n"
)


def _spec(ignore_case: bool, flags: list[str]) -> XmlAttributes:
    return XmlAttributes(
        path="x",
        create=True,
        ignore_case=ignore_case,
        set=[
            Setting(
                xpath="/configuration/location[@path='Default Web Site/owa']/system.webServer/security/access/@sslFlags",
                flags=flags,
                inherit="/configuration/location[@path='Default Web Site']/system.webServer/security/access/@sslFlags",
            )
        ],
    )


def test_location_paths_match_without_case_and_inherited_flags_count() -> None:
    # the inherited flags are already the wanted ones: nothing is added
    assert edit_all(_spec(True, ["Ssl", "Ssl128"]), CONFIG, "x") == (CONFIG, [])
    # one is missing: the location gets the site's flags plus it
    content, done = edit_all(_spec(True, ["Ssl", "SslNegotiateCert"]), CONFIG, "x")
    assert done == [
        "added -> 'Ssl, Ssl128, SslNegotiateCert' (was 'Ssl, Ssl128' from /configuration/location[@path='Default Web Site']/system.webServer/security/access/@sslFlags)"
    ]
    assert (
        xmledit.locate(
            content,
            "/configuration/location[@path='Default Web Site/OWA']/system.webServer/security/access/@sslFlags",
            "x",
        ).value
        == "Ssl, Ssl128, SslNegotiateCert"
    )
    # matched with case, the location 'Default Web Site/owa' is not there: no parent to add to
    with pytest.raises(Exception, match="selects 0 elements"):
        edit_all(_spec(False, ["Ssl", "SslNegotiateCert"]), CONFIG, "x")


def test_caseless_rewrites_each_equality_predicate() -> None:
    rewritten = caseless("/a[@path='Default Web Site/OWA']/b[@key=\"X\"]/@v")
    assert "='default web site/owa']" in rewritten and "='x']" in rewritten
    assert rewritten.count("translate(@") == 2


def test_undoing_only_this_change_leaves_alone_a_setting_that_added_nothing() -> None:
    """`--strategy inverse`: the owa location inherits the flags it wants (nothing was added
    there); the site's value changed and is put back; an element this change added refuses."""
    from remediate.kinds.resources.xml_attributes import RESOURCE

    owa = "/configuration/location[@path='Default Web Site/owa']/system.webServer/security/access/@sslFlags"
    site = "/configuration/location[@path='Default Web Site']/system.webServer/security/access/@sslFlags"
    spec = XmlAttributes(
        path="x",
        ignore_case=True,
        set=[
            Setting(xpath=owa, flags=["Ssl"], inherit=site),
            Setting(xpath=site, value="Ssl, Ssl128, SslNegotiateCert"),
        ],
    )
    after, done = edit_all(spec, CONFIG, "x")
    assert done == ["'Ssl, Ssl128' -> 'Ssl, Ssl128, SslNegotiateCert'"]
    assert RESOURCE.inverse(spec, CONFIG, after, after) == CONFIG
    added = _spec(True, ["Ssl", "SslNegotiateCert"])
    with pytest.raises(Exception, match="cannot be undone alone"):
        RESOURCE.inverse(added, CONFIG, edit_all(added, CONFIG, "x")[0], CONFIG)
