"""remediate.sim: a simulated Exchange organization that speaks real WS-Management + PSRP.

Unmodified pypsrp connects to it as to Windows: NTLM/Negotiate with message encryption,
Basic over HTTPS, the `/wsman` server endpoint and the `/PowerShell` Exchange endpoint. It
knows nothing of remediate's playbooks: it answers any client's cmdlets the way a Windows
Server running Exchange would.
"""

from __future__ import annotations

from remediate.sim.faults import (
    AppPoolFailure,
    CmdletDelay,
    CmdletError,
    DenyAccess,
    DropConnection,
    ErrorSpec,
    RestartFailure,
    Unreachable,
)
from remediate.sim.scenario import Scenario, load_scenario
from remediate.sim.simulator import ServerEndpoint, Simulator

__all__ = [
    "AppPoolFailure",
    "CmdletDelay",
    "CmdletError",
    "DenyAccess",
    "DropConnection",
    "ErrorSpec",
    "RestartFailure",
    "Scenario",
    "ServerEndpoint",
    "Simulator",
    "Unreachable",
    "load_scenario",
]
