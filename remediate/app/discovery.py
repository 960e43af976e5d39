"""Use case `inventory discover`: the organization's Exchange servers, as an inventory."""

from __future__ import annotations

from pathlib import Path

from remediate.app.fleet import Fleet


def discover(fleet: Fleet, out: Path | None = None) -> str:
    """Get-ExchangeServer through the fleet's first server; the inventory as YAML text (its
    `ca_file` relative to `out`, where it will be saved; else absolute)."""
    from remediate.model import inventory

    with fleet:
        first = fleet.servers[0]
        servers = fleet.readers()[first.name].exchange_servers()
        return inventory.discovered(
            servers, fleet.connection_for(first.name), fleet.username, first=first, saved_in=out
        )
