"""Fixtures for driving the simulator with plain pypsrp over real sockets.

Nothing here uses remediate's client code: the client side is pypsrp, as it would be against
Windows.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pypsrp.complex_objects import GenericComplexObject
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from remediate.sim import Simulator
from tests.lab import LAB

WEB_CONFIG = r"C:\Program Files\Microsoft\Exchange Server\V15\FrontEnd\HttpProxy\rest\web.config"
DEFAULT_PROFILES = "S2SAppActAs|S2SAppOnly|V1AppActAs|V1AppOnly|Callback|V1S2SActAs|CallbackV2"
EXCHANGE_SNAPIN = "Microsoft.Exchange.Management.PowerShell.SnapIn"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    # a lab: /PowerShell also takes NTLM and the snap-in needs no second hop (test_kerberos.py
    # tests the real defaults)
    with Simulator(tmp_path / "sim", servers=2, restart_seconds=0.05, authentication=LAB) as simulator:
        yield simulator


def wsman(
    sim: Simulator,
    server: str = "ex01",
    *,
    transport: str = "http",
    auth: str = "ntlm",
    path: str = "wsman",
    **options: Any,
) -> WSMan:
    endpoint = sim.servers[server]
    options.setdefault("username", sim.username)
    options.setdefault("password", sim.password)
    options.setdefault("operation_timeout", 10)
    options.setdefault("read_timeout", 20)
    if transport == "https":
        options.setdefault("cert_validation", str(sim.ca_file))
    return WSMan(endpoint.host, port=endpoint.port, ssl=transport == "https", auth=auth, path=path, **options)


@contextmanager
def pool(
    sim: Simulator, server: str = "ex01", *, exchange: bool = False, **options: Any
) -> Iterator[RunspacePool]:
    """A runspace pool on the server endpoint, or on the Exchange endpoint with exchange=True."""
    if exchange:
        options.setdefault("path", "PowerShell")
    connection = wsman(sim, server, **options)
    runspace_pool = RunspacePool(
        connection, configuration_name="Microsoft.Exchange" if exchange else "Microsoft.PowerShell"
    )
    with runspace_pool:
        yield runspace_pool


SWITCH = object()  # a parameter given without a value, like -Force


def run(runspace_pool: RunspacePool, cmdlet: str, *arguments: Any, **parameters: Any) -> PowerShell:
    """Invoke one cmdlet with bound parameters (SWITCH for a switch)."""
    shell = PowerShell(runspace_pool)
    shell.add_cmdlet(cmdlet)
    for argument in arguments:
        shell.add_argument(argument)
    for name, value in parameters.items():
        if value is SWITCH:
            shell.add_parameter(name)
        else:
            shell.add_parameter(name, value)
    shell.invoke()
    return shell


def error_ids(shell: PowerShell) -> list[str]:
    return [error.fq_error for error in shell.streams.error]


def messages(shell: PowerShell) -> list[str]:
    return [str(error) for error in shell.streams.error]


def file_bytes(shell: PowerShell) -> bytes:
    """What `Get-Content -Encoding Byte -ReadCount 0` returned, checked to have Windows
    PowerShell 5.1's shape: one object[] of boxed bytes (pypsrp: one list of ints); nothing
    for an empty or missing file."""
    if not shell.output:
        return b""
    [block] = shell.output
    assert isinstance(block, list) and all(isinstance(b, int) for b in block), type(block)
    return bytes(block)


def read_file(runspace_pool: RunspacePool, path: str) -> bytes:
    return file_bytes(run(runspace_pool, "Get-Content", LiteralPath=path, Encoding="Byte", ReadCount=0))


def content_lines(shell: PowerShell) -> list[str]:
    """What `Get-Content` (text) returned, checked to have Windows PowerShell 5.1's shape: each
    string carries the provider's NoteProperties, so it goes out as `<Obj><S>..</S><MS>..</MS></Obj>`
    and pypsrp returns an object whose text sits in `property_sets` (its str() is "None")."""
    lines = []
    for item in shell.output:
        assert isinstance(item, GenericComplexObject) and str(item) == "None", type(item)
        assert {"PSPath", "PSChildName", "ReadCount"} <= set(item.extended_properties)
        [line] = item.property_sets
        lines.append(line)
    return lines
