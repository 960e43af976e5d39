"""`remediate inventory discover`: the organization's servers, as an inventory to save."""

from __future__ import annotations

from typing import Any

import click

from remediate.cli.common import connection_options, targets


@click.group()
def inventory() -> None:
    """Inventories: the servers of an organization and how to reach them."""


@inventory.command()
@connection_options
@click.pass_context
def discover(ctx: click.Context, **options: Any) -> None:
    """List the organization's Exchange servers (Get-ExchangeServer, through the first host)
    as an inventory: save it, review it, and use it with -i."""
    from remediate.model import inventory as inventories
    from remediate.winrm.reader import Remote

    run_targets = targets(ctx, options)
    sessions = run_targets.sessions()
    try:
        first = run_targets.servers[0].name
        servers = Remote(sessions[first]).exchange_servers()
        click.echo(
            inventories.discovered(
                servers, run_targets.connection_for(first), run_targets.credentials.username
            ),
            nl=False,
        )
    finally:
        for session in sessions.values():
            session.close()
        run_targets.close()


COMMANDS = (inventory,)
