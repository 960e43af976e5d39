"""Use case `inventory discover`: the organization's Exchange servers, as an inventory."""

from __future__ import annotations

from remediate.app.fleet import Fleet


def discover(fleet: Fleet) -> str:
    """Get-ExchangeServer through the fleet's first server; the inventory as YAML text."""
    from remediate.model import inventory

    with fleet:
        first = fleet.servers[0].name
        servers = fleet.readers()[first].exchange_servers()
        return inventory.discovered(servers, fleet.connection_for(first), fleet.username)
