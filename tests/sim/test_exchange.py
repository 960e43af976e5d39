"""Exchange cmdlets on the Exchange endpoint (RBAC) and through the snap-in (no RBAC)."""

from __future__ import annotations

import re

import pytest
from pypsrp.complex_objects import GenericComplexObject
from pypsrp.exceptions import WinRMTransportError, WSManFaultError
from pypsrp.powershell import PowerShell, RunspacePool

from remediate.sim import RestartFailure, Scenario, Simulator
from remediate.sim.scenario import GRAPH_ACT_AS_PERMISSIONS, Rbac
from tests.sim.conftest import EXCHANGE_SNAPIN, SWITCH, error_ids, messages, pool, run, wsman

GRAPH = "Microsoft Graph"
SET_ID = "Microsoft.Exchange.Management.SystemConfigurationTasks.SetPartnerApplication"


def graph(p: object) -> GenericComplexObject:
    return run(p, "Get-PartnerApplication", Identity=GRAPH).output[0]


def test_microsoft_graph_partner_application(sim: Simulator) -> None:
    with pool(sim, exchange=True) as p:
        app = graph(p)
    props = app.adapted_properties
    assert app.types[0] == "Microsoft.Exchange.Data.Directory.SystemConfiguration.PartnerApplication"
    assert str(app) == GRAPH
    assert props["ApplicationIdentifier"] == "00000003-0000-0000-c000-000000000000"
    assert (
        props["ActAsPermissions"] == list(GRAPH_ACT_AS_PERMISSIONS) and len(props["ActAsPermissions"]) == 29
    )
    assert props["AppOnlyPermissions"] is None
    assert props["Enabled"] is True and props["AcceptSecurityIdentifierInformation"] is True


def test_all_partner_applications(sim: Simulator) -> None:
    with pool(sim, exchange=True) as p:
        names = [str(app) for app in run(p, "Get-PartnerApplication").output]
    assert GRAPH in names and "Exchange Online" in names


def test_get_not_found_is_non_terminating(sim: Simulator) -> None:
    with pool(sim, exchange=True) as p:
        shell = run(p, "Get-PartnerApplication", Identity="Microsoft Grap")
    assert shell.output == [] and not shell.had_errors
    assert messages(shell) == [
        "The operation couldn't be performed because object 'Microsoft Grap' couldn't be found on 'dc01.contoso.lab'."
    ]
    assert re.fullmatch(
        r"\[Server=EX01,RequestId=[0-9a-f-]+,TimeStamp=.+\] \[FailureCategory=Cmdlet-ManagementObjectNotFoundException\] "
        r"[0-9A-F]{8},Microsoft\.Exchange\.Management\.SystemConfigurationTasks\.GetPartnerApplication",
        error_ids(shell)[0],
    )


def test_app_only_permissions_are_hidden_by_rbac(sim: Simulator) -> None:
    with pool(sim, exchange=True) as p:
        shell = run(p, "Set-PartnerApplication", Identity=GRAPH, AppOnlyPermissions=["Mail.Read"])
        entry = run(
            p,
            "Get-ManagementRoleEntry",
            Identity="*\\Set-PartnerApplication",
            Parameters="AppOnlyPermissions",
        )
        enabled = run(p, "Set-PartnerApplication", Identity=GRAPH, Enabled=True)
    assert shell.had_errors
    assert error_ids(shell) == ["NamedParameterNotFound,Set-PartnerApplication"]
    assert messages(shell) == [
        "A parameter cannot be found that matches parameter name 'AppOnlyPermissions'."
    ]
    assert entry.output == [] and not entry.had_errors and "couldn't be found" in messages(entry)[0]
    assert not enabled.had_errors  # the cmdlet itself is granted
    assert [w.message for w in enabled.streams.warning] == [
        "The command completed successfully but no settings of 'Microsoft Graph' have been modified."
    ]
    assert sim.org.partner_applications()[1]["AppOnlyPermissions"] is None


def test_a_role_entry_can_grant_app_only_permissions(start_sim: object) -> None:
    sim = start_sim(Scenario(rbac=Rbac(app_only_permissions=True)))
    with pool(sim, exchange=True) as p:
        entry = run(
            p,
            "Get-ManagementRoleEntry",
            Identity="*\\Set-PartnerApplication",
            Parameters="AppOnlyPermissions",
        )
        shell = run(
            p, "Set-PartnerApplication", Identity=GRAPH, AppOnlyPermissions=list(GRAPH_ACT_AS_PERMISSIONS)
        )
        app = graph(p)
    assert [str(e) for e in entry.output] == ["Organization Configuration\\Set-PartnerApplication"]
    assert not shell.had_errors and not shell.streams.error
    assert app.adapted_properties["AppOnlyPermissions"] == list(GRAPH_ACT_AS_PERMISSIONS)


def test_snapin_on_the_server_endpoint_bypasses_rbac(sim: Simulator) -> None:
    with pool(sim) as p:
        before = run(p, "Get-PartnerApplication", Identity=GRAPH)
        assert not run(p, "Add-PSSnapin", Name=EXCHANGE_SNAPIN).streams.error
        again = run(p, "Add-PSSnapin", Name=EXCHANGE_SNAPIN)
        shell = run(
            p, "Set-PartnerApplication", Identity=GRAPH, AppOnlyPermissions=["Mail.Read", "Mail.Send"]
        )
        app = graph(p)
        unknown = run(p, "Set-PartnerApplication", Identity=GRAPH, NoSuchParameter=1)
    assert error_ids(before) == ["CommandNotFoundException"]
    assert error_ids(again) == ["AddPSSnapInRead,Microsoft.PowerShell.Commands.AddPSSnapinCommand"]
    assert not shell.had_errors and not shell.streams.error
    assert app.adapted_properties["AppOnlyPermissions"] == ["Mail.Read", "Mail.Send"]
    assert error_ids(unknown) == [f"NamedParameterNotFound,{SET_ID}"]


def test_snapin_lives_in_its_runspace_pool(sim: Simulator) -> None:
    with pool(sim) as p:
        run(p, "Add-PSSnapin", Name=EXCHANGE_SNAPIN)
    with pool(sim) as p:
        assert error_ids(run(p, "Get-PartnerApplication")) == ["CommandNotFoundException"]


def test_the_organization_is_shared_by_all_servers(sim: Simulator) -> None:
    with pool(sim, "ex01") as p:
        run(p, "Add-PSSnapin", Name=EXCHANGE_SNAPIN)
        run(p, "Set-PartnerApplication", Identity=GRAPH, AppOnlyPermissions=["Tasks.Read"])
    with pool(sim, "ex02", exchange=True) as p:
        assert graph(p).adapted_properties["AppOnlyPermissions"] == ["Tasks.Read"]
        servers = run(p, "Get-ExchangeServer").output
    assert [str(s) for s in servers] == ["EX01", "EX02"]
    assert str(servers[0].adapted_properties["AdminDisplayVersion"]) == "Version 15.2 (Build 1748.10)"
    assert servers[1].adapted_properties["Fqdn"] == "ex02.contoso.lab"


def test_set_errors_are_terminating(sim: Simulator) -> None:
    with pool(sim) as p:
        run(p, "Add-PSSnapin", Name=EXCHANGE_SNAPIN)
        shell = run(p, "Set-PartnerApplication", Identity="Nope", Enabled=False)
        bad_bool = run(p, "Set-PartnerApplication", Identity=GRAPH, Enabled="yes")
        unchanged = run(p, "Set-PartnerApplication", Identity=GRAPH, Enabled=True)
    assert shell.had_errors and "couldn't be found" in messages(shell)[0]
    assert error_ids(bad_bool) == [f"ParameterArgumentTransformationError,{SET_ID}"]
    assert [w.message for w in unchanged.streams.warning] == [
        "The command completed successfully but no settings of 'Microsoft Graph' have been modified."
    ]


def test_multi_valued_property_shape(start_sim: object) -> None:
    sim = start_sim(Scenario(multi_valued_shape="multi-valued-property"))
    with pool(sim, exchange=True) as p:
        value = graph(p).adapted_properties["ActAsPermissions"]
    assert isinstance(value, GenericComplexObject)
    assert value.types[0].startswith("Microsoft.Exchange.Data.MultiValuedProperty`1")
    raw = value.property_sets[0]
    assert raw.startswith("<LST>") and "<S>Mail.Read</S>" in raw and raw.count("<S>") == 29


def test_no_language_mode(sim: Simulator) -> None:
    with pool(sim, exchange=True) as p:
        script = PowerShell(p)
        script.add_script("Get-PartnerApplication | Select-Object -First 1")
        script.invoke()
        windows = run(p, "Get-Content", LiteralPath="C:\\Windows\\win.ini")
    assert script.had_errors and error_ids(script) == ["ScriptsNotAllowed"]
    assert messages(script) == [
        "The syntax is not supported by this runspace. This can occur if the runspace is in no-language mode."
    ]
    assert error_ids(windows) == ["CommandNotFoundException"]


def test_iis_restart_ends_exchange_sessions(sim: Simulator) -> None:
    exchange = RunspacePool(wsman(sim, path="PowerShell"), configuration_name="Microsoft.Exchange")
    exchange.open()
    assert graph(exchange)
    with pool(sim) as server:
        run(server, "Restart-Service", Name=["W3SVC", "WAS"], Force=SWITCH)
    with pytest.raises(WSManFaultError) as raised:
        graph(exchange)
    assert raised.value.code == 2150858843
    with pytest.raises(WSManFaultError):
        exchange.close()  # the shell is gone on the server too
    with pool(sim, exchange=True) as fresh:
        assert graph(fresh)


def test_exchange_endpoint_unavailable_while_iis_is_stopped(sim: Simulator) -> None:
    sim.inject(RestartFailure(server="ex01", mode="fail", service="W3SVC"))
    with pool(sim) as server:
        shell = run(server, "Restart-Service", Name="W3SVC", Force=SWITCH)
        state = run(server, "Get-WebAppPoolState", Name="MSExchangeRestFrontEndAppPool").output[0]
    assert error_ids(shell) == ["CouldNotStartService,Microsoft.PowerShell.Commands.RestartServiceCommand"]
    assert state.extended_properties["Value"] == "Stopped"
    with pytest.raises(WinRMTransportError) as raised, pool(sim, exchange=True):
        pass
    assert raised.value.code == 503
    with pool(sim, "ex02", exchange=True) as other:
        assert graph(other)


def test_get_exchange_server_errors(sim: Simulator) -> None:
    with pool(sim, exchange=True) as p:
        missing = run(p, "Get-ExchangeServer", Identity="ex99")
        by_fqdn = run(p, "Get-ExchangeServer", Identity="EX02.contoso.lab")
    assert not missing.had_errors and "object 'ex99' couldn't be found" in messages(missing)[0]
    assert [str(s) for s in by_fqdn.output] == ["EX02"]
