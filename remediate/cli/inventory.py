"""`remediate inventory discover`: the organization's servers, as an inventory to save."""

from __future__ import annotations

from typing import Any

import click

from remediate.cli.common import connection_options, fleet_opener, fleet_options


@click.group()
def inventory() -> None:
    """Inventories: the servers of an organization and how to reach them."""


@inventory.command()
@connection_options
@click.pass_context
def discover(ctx: click.Context, **options: Any) -> None:
    """List the organization's Exchange servers (Get-ExchangeServer, through the first host)
    as an inventory: save it, review it, and use it with -i."""
    from remediate.app.discovery import discover as found

    click.echo(found(fleet_opener(ctx, fleet_options(options))()), nl=False)


COMMANDS = (inventory,)
