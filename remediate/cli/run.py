"""`remediate plan` and `remediate apply --dry-run`: what a playbook would change."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from remediate.cli.common import connection_options, targets
from remediate.errors import ExitCode, RemediateError

OUTPUT = click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)


def _plan(ctx: click.Context, playbook_name: str, output: str, options: dict[str, Any]) -> None:
    from remediate import playbook
    from remediate.cli.render import plan_text
    from remediate.planner import plan_targets

    loaded = playbook.load(playbook_name)
    run_targets = targets(ctx, options)
    try:
        plan = plan_targets(loaded, run_targets.servers, run_targets.connection, run_targets.credentials)
    finally:
        run_targets.close()
    if output == "json":
        click.echo(json.dumps(plan.to_dict(), indent=2))
    else:
        click.echo(plan_text(plan))
    if plan.errors:
        sys.exit(ExitCode.ERROR)


@click.command()
@click.argument("playbook_name", metavar="PLAYBOOK")
@connection_options
@OUTPUT
@click.pass_context
def plan(ctx: click.Context, playbook_name: str, output: str, **options: Any) -> None:
    """Show what PLAYBOOK would change on the servers. Reads only; changes nothing."""
    _plan(ctx, playbook_name, output, options)


@click.command()
@click.argument("playbook_name", metavar="PLAYBOOK")
@connection_options
@click.option("--dry-run", is_flag=True, help="Show the plan and stop: nothing is changed.")
@OUTPUT
@click.pass_context
def apply(ctx: click.Context, playbook_name: str, dry_run: bool, output: str, **options: Any) -> None:
    """Apply PLAYBOOK to the servers (with --dry-run: show the plan only)."""
    if not dry_run:
        raise RemediateError(
            "apply-not-available",
            "this version of remediate plans but does not apply yet",
            "use --dry-run (or `remediate plan`) to see exactly what would change",
        )
    _plan(ctx, playbook_name, output, options)


COMMANDS = (plan, apply)
