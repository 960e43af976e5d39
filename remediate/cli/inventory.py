"""`remediate inventory discover`: the organization's servers, as an inventory to save."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from remediate.cli.common import connection_options, fleet_opener, fleet_options
from remediate.support.errors import RemediateError


@click.group()
def inventory() -> None:
    """Inventories: the servers of an organization and how to reach them."""


@inventory.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the inventory to this file (its ca_file relative to it) instead of standard output.",
)
@connection_options
@click.pass_context
def discover(ctx: click.Context, out: Path | None, **options: Any) -> None:
    """List the organization's Exchange servers (Get-ExchangeServer, through the first host)
    as an inventory: save it, review it, and use it with -i."""
    from remediate.app.discovery import discover as found

    text = found(fleet_opener(ctx, fleet_options(options))(), out)
    if out is None:
        click.echo(text, nl=False)
        return
    if out.exists():
        raise RemediateError(
            "inventory-exists", f"{out} exists: it was not overwritten", "choose another --out"
        )
    out.write_text(text, encoding="utf-8")
    click.echo(f"inventory written to {out}: review it, then use it with -i {out}", err=True)


COMMANDS = (inventory,)
