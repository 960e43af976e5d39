"""WS-Management over HTTP(S): authentication, encryption, certificates, endpoints, faults."""

from __future__ import annotations

import pytest
import requests
from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError
from pypsrp.powershell import RunspacePool

from remediate.sim import RestartFailure, Simulator
from tests.sim.conftest import SWITCH, pool, run, wsman


def _works(sim: Simulator, **options: object) -> None:
    with pool(sim, **options) as runspace_pool:
        assert run(runspace_pool, "Test-Path", LiteralPath="C:\\Program Files").output == [True]


def test_ntlm_with_message_encryption_over_http(sim: Simulator) -> None:
    _works(sim, transport="http", auth="ntlm")
    assert sim.counters_for("ex01")["auth_failures"] == 0


def test_negotiate_over_http(sim: Simulator) -> None:
    _works(sim, transport="http", auth="negotiate")


def test_ntlm_over_https_with_channel_binding(sim: Simulator) -> None:
    _works(sim, transport="https", auth="ntlm")


def test_basic_over_https_verifies_the_simulator_certificate(sim: Simulator) -> None:
    _works(sim, transport="https", auth="basic")


def test_message_encryption_over_https_when_asked(sim: Simulator) -> None:
    _works(sim, transport="https", auth="negotiate", encryption="always")


@pytest.mark.parametrize(
    "username", ["administrator@contoso.lab", "administrator", "contoso.lab\\administrator"]
)
def test_username_forms(sim: Simulator, username: str) -> None:
    _works(sim, username=username)


def test_https_without_the_ca_fails_verification(sim: Simulator) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        _works(sim, transport="https", cert_validation=True)


def test_basic_over_http_is_refused(sim: Simulator) -> None:
    with pytest.raises(AuthenticationError):
        _works(sim, transport="http", auth="basic", encryption="never")


def test_unencrypted_http_is_refused(sim: Simulator) -> None:
    with pytest.raises(AuthenticationError):
        _works(sim, transport="http", auth="ntlm", encryption="never")


@pytest.mark.parametrize(("transport", "auth"), [("http", "ntlm"), ("http", "negotiate"), ("https", "basic")])
def test_wrong_password_gets_401(sim: Simulator, transport: str, auth: str) -> None:
    with pytest.raises(AuthenticationError):
        _works(sim, transport=transport, auth=auth, password="not the password")
    assert sim.counters_for("ex01")["auth_failures"] >= 1


def test_unknown_user_gets_401(sim: Simulator) -> None:
    with pytest.raises(AuthenticationError):
        _works(sim, username="CONTOSO\\mallory", password=sim.password)


def test_foreign_domain_gets_401(sim: Simulator) -> None:
    with pytest.raises(AuthenticationError):
        _works(sim, username="FABRIKAM\\administrator")


def test_exchange_configuration_is_not_served_at_wsman(sim: Simulator) -> None:
    connection = wsman(sim)
    with pytest.raises(WSManFaultError) as raised:
        RunspacePool(connection, configuration_name="Microsoft.Exchange").open()
    assert raised.value.code == 2150858770
    assert "was not found in the WS-Management catalog" in str(raised.value.reason)


def test_exchange_endpoint_path_is_case_insensitive(sim: Simulator) -> None:
    with pool(sim, exchange=True, path="powershell") as runspace_pool:
        assert run(runspace_pool, "Get-ExchangeServer", Identity="ex01").output


def test_unknown_path_is_404(sim: Simulator) -> None:
    with pytest.raises(WinRMTransportError) as raised:
        RunspacePool(wsman(sim, path="nothing")).open()
    assert raised.value.code == 404


def test_max_envelope_size_is_reported(sim: Simulator) -> None:
    connection = wsman(sim)
    connection.update_max_payload_size()
    assert connection.max_envelope_size == 500 * 1024


def test_receive_times_out_and_pypsrp_retries_until_done(sim: Simulator) -> None:
    sim.inject(RestartFailure(server="ex01", mode="hang", service="W3SVC", hang_seconds=2.5))
    with pool(sim, operation_timeout=1) as runspace_pool:
        shell = run(runspace_pool, "Restart-Service", Name="W3SVC", Force=SWITCH)
    assert not shell.had_errors
    # The 1-second operation timeout made several Receives end in the TimedOut fault.
    assert sim.counters_for("ex01")["actions"]["Receive"] >= 3


def test_request_counts_for_one_cmdlet(sim: Simulator) -> None:
    sim.counters.reset()
    with pool(sim) as runspace_pool:
        run(runspace_pool, "Test-Path", LiteralPath="C:\\")
    counts = sim.counters_for("ex01")
    # open (Create + Receive), the pipeline (Command + Receive), close (Delete)
    assert counts["actions"] == {"Create": 1, "Receive": 2, "Command": 1, "Delete": 1}
    assert counts["wsman_requests"] == 5
    assert counts["connections"] == 1


def test_servers_listen_on_their_own_ports(sim: Simulator) -> None:
    assert sim.servers["ex01"].port != sim.servers["ex02"].port
    with pool(sim, "ex02") as runspace_pool:
        value = run(runspace_pool, "Get-Item", LiteralPath="Env:\\COMPUTERNAME").output[0]
    assert value.adapted_properties["Value"] == "EX02"
