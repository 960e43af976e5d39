"""Cmdlets as statements of one request (issue 18): PowerShell's batch invocation on the
simulator, through real pypsrp: an -ErrorAction Stop error stops the statements after it;
another terminating error goes to the error stream and the next statement runs."""

from __future__ import annotations

from typing import Any

import pytest
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from remediate.sim import Simulator


def _pool(sim: Simulator) -> RunspacePool:
    endpoint = sim.servers["ex01"]
    wsman = WSMan(
        endpoint.host,
        port=endpoint.port,
        username=sim.username,
        password=sim.password,
        cert_validation=str(sim.ca_file),
        auth="ntlm",
    )
    return RunspacePool(wsman)


def _batch(pool: RunspacePool, *commands: tuple[str, dict[str, Any]]) -> PowerShell:
    shell = PowerShell(pool)
    for cmdlet, parameters in commands:
        shell.add_cmdlet(cmdlet)
        for name, value in parameters.items():
            shell.add_parameter(name, value)
        shell.add_statement()
    shell.invoke()
    return shell


def test_an_error_action_stop_error_stops_the_statements_after_it(start_sim: Any) -> None:
    sim = start_sim(servers=1, restart_seconds=0)
    with _pool(sim) as pool:
        shell = _batch(
            pool,
            ("Set-Content", {"LiteralPath": "C:\\ProgramData\\Microsoft\\Windows\\a.txt", "Value": "a"}),
            (
                "Get-Content",
                {"LiteralPath": "C:\\ProgramData\\Microsoft\\Windows\\missing.txt", "ErrorAction": "Stop"},
            ),
            ("Set-Content", {"LiteralPath": "C:\\ProgramData\\Microsoft\\Windows\\b.txt", "Value": "b"}),
        )
        assert shell.had_errors  # the pipeline failed with the Stop error
        written = [
            r.parameter("LiteralPath") for r in sim.audit_records("ex01") if r.command == "Set-Content"
        ]
        assert written == ["C:\\ProgramData\\Microsoft\\Windows\\a.txt"]  # the third statement never ran


def test_another_terminating_error_lets_the_next_statement_run(start_sim: Any) -> None:
    """A parameter that does not bind is terminating, but not an ActionPreferenceStopException:
    the batch goes on (which is why remediate batches only statements safe after that)."""
    sim = start_sim(servers=1, restart_seconds=0)
    with _pool(sim) as pool:
        shell = _batch(
            pool,
            (
                "Get-Content",
                {
                    "LiteralPath": "C:\\ProgramData\\Microsoft\\Windows\\x.txt",
                    "NoSuchParameter": "1",
                    "ErrorAction": "Stop",
                },
            ),
            ("Set-Content", {"LiteralPath": "C:\\ProgramData\\Microsoft\\Windows\\c.txt", "Value": "c"}),
        )
        # the pipeline completes (pypsrp: had_errors False), the error is in the error stream
        assert not shell.had_errors and len(shell.streams.error) == 1
        written = [
            r.parameter("LiteralPath") for r in sim.audit_records("ex01") if r.command == "Set-Content"
        ]
        assert written == ["C:\\ProgramData\\Microsoft\\Windows\\c.txt"]


def test_remediate_writes_a_file_and_its_hash_in_one_request(start_sim: Any) -> None:
    from remediate.winrm.session import Session
    from remediate.winrm.settings import Connection, Credentials, Secret, Server
    from remediate.winrm.writer import ServerWriter, sha256

    sim = start_sim(servers=1, restart_seconds=0)
    endpoint = sim.servers["ex01"]
    session = Session(
        Server(name="ex01", address=endpoint.host, port=endpoint.port),
        Connection(ca_file=sim.ca_file, auth="ntlm"),
        Credentials(sim.username, Secret(sim.password)),
    )
    before = sim.counters_for("ex01")["actions"].get("Command", 0)
    digest = ServerWriter(session).put_and_hash(
        "C:\\ProgramData\\Microsoft\\Windows\\d.bin", b"\x00\x01remediate"
    )
    assert digest == sha256(b"\x00\x01remediate")
    assert sim.counters_for("ex01")["actions"]["Command"] - before == 1


def _session(sim: Simulator) -> Any:
    from remediate.winrm.session import Session
    from remediate.winrm.settings import Connection, Credentials, Secret, Server

    endpoint = sim.servers["ex01"]
    return Session(
        Server(name="ex01", address=endpoint.host, port=endpoint.port),
        Connection(ca_file=sim.ca_file, auth="ntlm"),
        Credentials(sim.username, Secret(sim.password)),
    )


def test_a_file_is_moved_into_place_and_its_hash_read_in_one_request(start_sim: Any) -> None:
    from remediate.winrm.writer import ServerWriter, sha256

    sim = start_sim(servers=1, restart_seconds=0)
    writer = ServerWriter(_session(sim))
    path = "C:\\ProgramData\\Microsoft\\Windows\\target.bin"
    writer.put_and_hash(path, b"old")
    before = sim.counters_for("ex01")["actions"]["Command"]
    assert writer.replace_file(path, b"new\x00bytes", "run1") == sha256(b"new\x00bytes")
    # the temporary file and its hash, then the move and the target's hash: two requests
    assert sim.counters_for("ex01")["actions"]["Command"] - before == 2
    state = sim.state("ex01")
    with state.lock:
        assert state.read(sim.machine("ex01").path(path, "C:\\")) == b"new\x00bytes"


@pytest.mark.parametrize("error", ["non-terminating", "generic"])
def test_a_move_that_fails_is_an_error(start_sim: Any, error: str) -> None:
    """Move-Item's own failures are non-terminating (MoveFileInfoItemIOError): -ErrorAction
    Stop makes them stop the batch, so the hash is not read. A terminating error of the cmdlet
    itself lets the next statement run (PowerShell's batches): the error still fails the write."""
    from remediate.sim import CmdletError
    from remediate.support.errors import RemediateError
    from remediate.winrm.writer import ServerWriter

    sim = start_sim(servers=1, restart_seconds=0)
    writer = ServerWriter(_session(sim))
    path = "C:\\ProgramData\\Microsoft\\Windows\\target.bin"
    writer.put_and_hash(path, b"old")
    sim.inject(CmdletError(server="ex01", cmdlet="Move-Item", argument="target.bin", error=error))  # type: ignore[arg-type]
    with pytest.raises(RemediateError) as raised:
        writer.replace_file(path, b"new", "run1")
    assert raised.value.reference == "write-failed"
    calls = [r.command for r in sim.audit_records()]
    assert calls[-1] == ("Move-Item" if error == "non-terminating" else "Get-FileHash")
