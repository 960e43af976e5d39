"""Every fault the simulator can inject, seen through pypsrp."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests
from pypsrp.exceptions import AuthenticationError
from pypsrp.powershell import RunspacePool

from remediate.sim import (
    CmdletError,
    DenyAccess,
    DropConnection,
    ErrorSpec,
    RestartFailure,
    Scenario,
    Simulator,
    Unreachable,
)
from tests.sim.conftest import SWITCH, WEB_CONFIG, error_ids, messages, pool, read_file, run, wsman


def test_nth_call_of_a_cmdlet_fails(sim: Simulator) -> None:
    sim.inject(CmdletError(server="ex01", cmdlet="Set-Content", nth=2, error="access-denied"))
    with pool(sim) as p:
        first = run(p, "Set-Content", LiteralPath="C:\\a.txt", Value="1")
        second = run(p, "Set-Content", LiteralPath="C:\\b.txt", Value="2")
        third = run(p, "Set-Content", LiteralPath="C:\\c.txt", Value="3")
        exists = [run(p, "Test-Path", LiteralPath=f"C:\\{n}.txt").output[0] for n in "abc"]
    assert not first.had_errors and not third.had_errors
    assert second.had_errors and messages(second) == ["Access is denied."]
    assert error_ids(second) == ["UnauthorizedAccess,Microsoft.PowerShell.Commands.SetContentCommand"]
    assert exists == [True, False, True]
    outcomes = [r.outcome for r in sim.audit_records("ex01") if r.command == "Set-Content"]
    assert outcomes == ["ok", "failed", "ok"]


def test_custom_non_terminating_error(sim: Simulator) -> None:
    error = ErrorSpec(message="The RPC server is unavailable.", error_id="RpcUnavailable", terminating=False)
    sim.inject(CmdletError(cmdlet="Get-PartnerApplication", error=error, times=0))
    with pool(sim, "ex02", exchange=True) as p:
        shell = run(p, "Get-PartnerApplication")
    assert not shell.had_errors and shell.output == []
    assert messages(shell) == ["The RPC server is unavailable."]


def test_fault_only_hits_its_server(sim: Simulator) -> None:
    sim.inject(CmdletError(server="ex02", cmdlet="Test-Path", times=0))
    with pool(sim, "ex01") as p:
        assert run(p, "Test-Path", LiteralPath="C:\\").output == [True]


def test_drop_the_nth_request(sim: Simulator) -> None:
    sim.inject(DropConnection(server="ex01", nth=4))
    with pytest.raises(requests.exceptions.ConnectionError):
        with pool(sim) as p:  # requests 1-3 authenticate, the 4th is Create
            run(p, "Test-Path", LiteralPath="C:\\")
    with pool(sim) as p:
        assert run(p, "Test-Path", LiteralPath="C:\\").output == [True]


def test_drop_before_a_cmdlet_runs(sim: Simulator) -> None:
    sim.inject(DropConnection(server="ex01", cmdlet="Set-Content", when="before"))
    dropped = RunspacePool(wsman(sim))
    dropped.open()
    with pytest.raises(requests.exceptions.ConnectionError):
        run(dropped, "Set-Content", LiteralPath=WEB_CONFIG, Value=b"new", Encoding="Byte")
    # NTLM is bound to the connection: pypsrp re-authenticates but seals with the old key,
    # so this pool is unusable; as on Windows, the client must open a new one.
    with pytest.raises(AuthenticationError):
        dropped.close()
    with pool(sim) as p:
        assert read_file(p, WEB_CONFIG) != b"new"
    assert [r.command for r in sim.audit_records("ex01")] == ["Get-Content"]


def test_drop_after_a_cmdlet_ran(sim: Simulator) -> None:
    sim.inject(DropConnection(server="ex01", cmdlet="Set-Content", when="after"))
    p = RunspacePool(wsman(sim))
    p.open()
    with pytest.raises(requests.exceptions.ConnectionError):
        run(p, "Set-Content", LiteralPath=WEB_CONFIG, Value=b"new", Encoding="Byte")
    with pool(sim) as fresh:
        assert read_file(fresh, WEB_CONFIG) == b"new"


def test_deny_access(sim: Simulator) -> None:
    folder = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd"
    sim.inject(DenyAccess(server="ex01", path=folder, operations="write"))
    with pool(sim) as p:
        read = run(p, "Get-Content", LiteralPath=WEB_CONFIG, Encoding="Byte", ReadCount=0)
        write = run(p, "Set-Content", LiteralPath=WEB_CONFIG, Value=b"x", Encoding="Byte")
        copy = run(p, "Copy-Item", LiteralPath=WEB_CONFIG, Destination=WEB_CONFIG + ".bak")
        remove = run(p, "Remove-Item", LiteralPath=WEB_CONFIG)
        exists = run(p, "Test-Path", LiteralPath=WEB_CONFIG)
    assert read.output and not read.streams.error
    assert messages(write) == [f"Access to the path '{WEB_CONFIG}' is denied."]
    assert error_ids(copy) == [
        "CopyFileInfoItemUnauthorizedAccessError,Microsoft.PowerShell.Commands.CopyItemCommand"
    ]
    assert error_ids(remove) == [
        "RemoveFileSystemItemUnAuthorizedAccess,Microsoft.PowerShell.Commands.RemoveItemCommand"
    ]
    assert exists.output == [True]


def test_restart_fails_and_leaves_the_service_stopped(sim: Simulator) -> None:
    sim.inject(RestartFailure(server="ex01", mode="fail", service="W3SVC"))
    with pool(sim) as p:
        failed = run(p, "Restart-Service", Name=["W3SVC", "WAS"], Force=SWITCH)
        statuses = {
            s.extended_properties["Name"]: str(s.adapted_properties["Status"])
            for s in run(p, "Get-Service", Name=["W3SVC", "WAS"]).output
        }
        retried = run(p, "Restart-Service", Name="W3SVC", Force=SWITCH)
    assert messages(failed)[0] == (
        "Service 'World Wide Web Publishing Service (W3SVC)' cannot be started due to the following error: "
        "Cannot start service W3SVC on computer '.'."
    )
    assert statuses == {"W3SVC": "Stopped", "WAS": "Running"}
    assert not retried.streams.error  # times=1: the next restart works
    assert sim.state("ex01").service("W3SVC")["status"] == "Running"


def test_restart_hangs_and_warns(start_sim: object) -> None:
    sim = start_sim(Scenario(faults=[RestartFailure(mode="hang", hang_seconds=2.2)]))
    started = time.monotonic()
    with pool(sim) as p:
        shell = run(p, "Restart-Service", Name="W3SVC", Force=SWITCH)
    assert time.monotonic() - started >= 2.2
    assert not shell.streams.error
    assert [w.message for w in shell.streams.warning] == [
        "Waiting for service 'World Wide Web Publishing Service (W3SVC)' to start..."
    ]


def test_unreachable_refuse_then_recover(sim: Simulator) -> None:
    sim.inject(Unreachable(server="ex02", mode="refuse"))
    with pytest.raises(requests.exceptions.ConnectionError), pool(sim, "ex02"):
        pass
    with pool(sim, "ex01") as p:
        assert run(p, "Test-Path", LiteralPath="C:\\").output == [True]
    sim.clear_faults()
    with pool(sim, "ex02") as p:
        assert run(p, "Test-Path", LiteralPath="C:\\").output == [True]


def test_unreachable_blackhole_times_out(sim: Simulator) -> None:
    sim.inject(Unreachable(server="ex01", mode="blackhole"))
    started = time.monotonic()
    with pytest.raises(requests.exceptions.Timeout), pool(sim, connection_timeout=1, read_timeout=1):
        pass
    assert time.monotonic() - started < 10


def test_faults_injected_from_another_process(sim: Simulator) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "remediate",
            "sim",
            "fault",
            "add",
            "cmdlet-error",
            "--state",
            str(sim.state_dir),
            "--cmdlet",
            "Get-Service",
            "--server",
            "ex01",
        ],
        check=True,
        capture_output=True,
    )
    with pool(sim) as p:
        assert run(p, "Get-Service", Name="W3SVC").had_errors
        assert not run(p, "Get-Service", Name="W3SVC").had_errors
    listed = subprocess.run(
        [sys.executable, "-m", "remediate", "sim", "fault", "list", "--state", str(sim.state_dir)],
        check=True,
        capture_output=True,
        text=True,
    )
    assert '"fired":1' in listed.stdout
