"""How long a real Exchange server takes, spent waiting (sleeping), never computing: 50 slow
servers fit on 2 cores.

    latency: realistic            # the preset below
    latency: {round_trip_ms: 30, exchange_cmdlet_ms: 400}   # or any of the keys (0: none)

Where the time goes: every HTTP request crosses the network (`round_trip_ms`); opening a
runspace pool starts a host process on the server (`runspace_open_ms`), on Exchange's
/PowerShell endpoint also Exchange's RBAC initialisation (`exchange_open_ms`); loading the
Exchange snap-in (`snapin_ms`); each cmdlet (`cmdlet_ms`; an Exchange cmdlet, which reads
Active Directory, `exchange_cmdlet_ms`); restarting IIS (`restart_seconds`, replacing the
scenario's own when set).

The `realistic` preset. No published measurement of these was found (searched: Microsoft
Learn, the Exchange team blog, CSS-Exchange); each number is an **assumption**, stated with
its reasoning, for a LAN-connected administrator and a healthy Exchange 2019 server:

| key | value | why |
|---|---|---|
| round_trip_ms | 2 | one LAN round trip with TLS already set up (same site) |
| runspace_open_ms | 500 | WinRM starts a wsmprovhost.exe and a PowerShell 5.1 runspace: about half a second is the commonly seen New-PSSession time |
| exchange_open_ms | 3000 | Exchange's /PowerShell endpoint builds the user's RBAC runspace (role entries, scopes) before the first command: seconds |
| snapin_ms | 4000 | Add-PSSnapin loads Exchange's management assemblies (JIT, the Exchange team's "jitter" post): seconds |
| cmdlet_ms | 15 | a Windows PowerShell cmdlet on a local file or registry key |
| exchange_cmdlet_ms | 250 | an Exchange cmdlet: AD reads through a domain controller |
| restart_seconds | 20 | Restart-Service of W3SVC/WAS on an Exchange server: tens of seconds (application pools stop and start) |
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Latency(BaseModel):
    model_config = ConfigDict(extra="forbid")
    round_trip_ms: float = Field(default=0, ge=0, description="Each HTTP request: the network.")
    runspace_open_ms: float = Field(default=0, ge=0, description="Opening a runspace pool (WS-Man Create).")
    exchange_open_ms: float = Field(
        default=0, ge=0, description="Also, opening one on Exchange's /PowerShell endpoint (RBAC)."
    )
    snapin_ms: float = Field(default=0, ge=0, description="Add-PSSnapin of Exchange's snap-in.")
    cmdlet_ms: float = Field(default=0, ge=0, description="Each Windows PowerShell cmdlet.")
    exchange_cmdlet_ms: float = Field(default=0, ge=0, description="Each Exchange cmdlet.")
    restart_seconds: float | None = Field(
        default=None, ge=0, description="Restarting IIS (replaces the scenario's restart_seconds)."
    )


PRESETS: dict[str, Latency] = {
    "none": Latency(),
    "realistic": Latency(
        round_trip_ms=2,
        runspace_open_ms=500,
        exchange_open_ms=3000,
        snapin_ms=4000,
        cmdlet_ms=15,
        exchange_cmdlet_ms=250,
        restart_seconds=20,
    ),
}


def resolve(value: Any) -> Latency:
    """A preset's name or the keys, as a scenario or `--latency` gives them."""
    if isinstance(value, Latency):
        return value
    if isinstance(value, str):
        if value not in PRESETS:
            raise ValueError(f"latency {value!r} is not one of: {', '.join(PRESETS)}")
        return PRESETS[value]
    return Latency.model_validate(value or {})


def wait(milliseconds: float) -> None:
    """Spend the time waiting: a sleeping thread takes no CPU."""
    if milliseconds > 0:
        time.sleep(milliseconds / 1000)
