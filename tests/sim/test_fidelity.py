"""The simulator checked against real files from Microsoft's CSS-Exchange repository.

The fixtures are read from ../shared/fixtures/css-exchange (beside the project, never copied
into it). What the simulator serves must have the same properties as what Exchange has.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from remediate.sim import Simulator
from remediate.sim.scenario import GRAPH_ACT_AS_PERMISSIONS
from tests.sim.conftest import DEFAULT_PROFILES, WEB_CONFIG, pool, read_file, run

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "css-exchange"
CLIXML = "{http://schemas.microsoft.com/powershell/2004/04}"
PROFILES_XPATH = "/configuration/appSettings/add[@key='OAuthHttpModule.Profiles']/@value"

pytestmark = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason="../shared/fixtures/css-exchange is not present"
)


def _graph_in_fixture() -> etree._Element:
    root = etree.parse(str(FIXTURES / "E19_Exchange_GetPartnerApplication.xml")).getroot()
    for obj in root.iterfind(f"{CLIXML}Obj"):
        if obj.findtext(f"{CLIXML}ToString") == "Microsoft Graph":
            return obj
    raise AssertionError("Microsoft Graph is not in the fixture")


def test_graph_act_as_permissions_match_a_real_lab() -> None:
    act_as = _graph_in_fixture().find(f"{CLIXML}Props/{CLIXML}Obj[@N='ActAsPermissions']")
    assert act_as is not None
    assert [s.text for s in act_as.iterfind(f"{CLIXML}LST/{CLIXML}S")] == list(GRAPH_ACT_AS_PERMISSIONS)
    assert act_as.find(f"{CLIXML}TN/{CLIXML}T").text == "System.String[]"  # type: ignore[union-attr]
    assert _graph_in_fixture().find(f"{CLIXML}Props/{CLIXML}Nil[@N='AppOnlyPermissions']") is not None


def test_partner_application_has_the_real_properties(sim: Simulator) -> None:
    real = {prop.get("N") for prop in _graph_in_fixture().find(f"{CLIXML}Props")}  # type: ignore[union-attr]
    with pool(sim, exchange=True) as p:
        ours = run(p, "Get-PartnerApplication", Identity="Microsoft Graph").output[0]
    missing = set(ours.adapted_properties) - real
    assert not missing, f"properties Exchange does not have: {missing}"
    essential = {
        "ActAsPermissions",
        "AppOnlyPermissions",
        "ApplicationIdentifier",
        "Enabled",
        "LinkedAccount",
        "Name",
    }
    assert essential <= set(ours.adapted_properties)
    assert ours.types[:2] == [
        "Microsoft.Exchange.Data.Directory.SystemConfiguration.PartnerApplication",
        "Microsoft.Exchange.Data.Directory.SystemConfiguration.ADConfigurationObject",
    ]


def test_rest_web_config_has_the_shape_of_the_real_one(sim: Simulator) -> None:
    real = (FIXTURES / "E19_Exchange_IIS_DefaultWebSite-Rest_web.config").read_bytes()
    with pool(sim) as p:
        ours = read_file(p, WEB_CONFIG)
    for data in (real, ours):
        assert data.startswith(b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?>')
        assert b"<!--" in data and b" />" in data and b"&lt;" in data
        tree = etree.fromstring(data.replace(b"\r\n", b"\n"))
        assert tree.xpath(PROFILES_XPATH) == [DEFAULT_PROFILES]
    assert ours.count(b"\r\n") == ours.count(b"\n")  # a server's copy has CRLF line ends
    assert ours != real  # the project's own file, not Microsoft's


def test_back_end_web_config_has_no_profiles_key(sim: Simulator) -> None:
    real = (FIXTURES / "E19_Exchange_IIS_ExchangeBackEnd-Rest_web.config").read_bytes()
    backend = WEB_CONFIG.replace("FrontEnd\\HttpProxy\\rest", "ClientAccess\\rest")
    with pool(sim) as p:
        ours = read_file(p, backend)
    for data in (real, ours):
        assert etree.fromstring(data.replace(b"\r\n", b"\n")).xpath(PROFILES_XPATH) == []


# -- every recorded cmdlet the simulator serves: the same type names and property names -------------

# Added by the receiving PowerShell (remoting adds PSComputerName, RunspaceId, PSShowComputerName)
# or by the Exchange Management Shell rebuilding its objects (SerializationData): the server
# does not send them.
CLIENT_SIDE_NOTES = {"PSComputerName", "RunspaceId", "PSShowComputerName", "SerializationData"}
RECORDED = {
    # capture: (endpoint, cmdlet, parameters)
    "E19_Exchange_GetServiceMitigation.xml": ("server", "Get-Service", {"Name": "W3SVC"}),
    "E19_Exchange_GetPartnerApplication.xml": ("exchange", "Get-PartnerApplication", {}),
    "E19_Exchange_GetExchangeServer.xml": ("exchange", "Get-ExchangeServer", {}),
}


def _recorded_shape(capture: str) -> tuple[list[str], set[str], set[str]]:
    obj = etree.parse(str(FIXTURES / capture)).getroot().find(f"{CLIXML}Obj")
    assert obj is not None
    types = [t.text or "" for t in obj.find(f"{CLIXML}TN")]  # type: ignore[union-attr]
    props = obj.find(f"{CLIXML}Props")
    notes = obj.find(f"{CLIXML}MS")
    adapted = {p.get("N") or "" for p in (props if props is not None else [])}
    extended = {p.get("N") or "" for p in (notes if notes is not None else [])} - CLIENT_SIDE_NOTES
    return types, adapted, extended


@pytest.mark.parametrize("capture", list(RECORDED))
def test_objects_carry_the_recorded_type_and_property_names(sim: Simulator, capture: str) -> None:
    endpoint, cmdlet, parameters = RECORDED[capture]
    with pool(sim, exchange=endpoint == "exchange") as p:
        ours = run(p, cmdlet, **parameters).output[0]
    types, adapted, extended = _recorded_shape(capture)
    assert ours.types == types
    assert set(ours.adapted_properties) == adapted
    assert set(ours.extended_properties) == extended


def test_a_setting_override_has_the_recorded_type_and_property_names(sim: Simulator) -> None:
    """Get-SettingOverride against the real capture (HealthChecker test data)."""
    with pool(sim, exchange=True) as p:
        made = run(
            p,
            "New-SettingOverride",
            Name="EnableSigningVerification",
            Component="Data",
            Section="EnableSerializationDataSigning",
            Parameters=["Enabled=true"],
            Reason="Enabling Signing Verification",
        )
        assert not made.streams.error
        ours = run(p, "Get-SettingOverride").output[0]
    types, _, extended = _recorded_shape("E19_Exchange_GetSettingOverride.xml")
    assert ours.types == types
    assert list(ours.adapted_properties) == [
        n for n in adapted_in_order("E19_Exchange_GetSettingOverride.xml")
    ]
    assert set(ours.extended_properties) == extended


def adapted_in_order(capture: str) -> list[str]:
    obj = etree.parse(str(FIXTURES / capture)).getroot().find(f"{CLIXML}Obj")
    return [p.get("N") or "" for p in obj.find(f"{CLIXML}Props")]  # type: ignore[union-attr]
