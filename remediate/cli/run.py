"""`remediate plan`, `remediate apply`: what a playbook would change, and changing it."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from remediate.cli.common import confirm, connection_options, given_hosts, journal_for, targets
from remediate.errors import ExitCode, RemediateError

OUTPUT = click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)


def progress(server: str, message: str) -> None:
    click.echo(f"  {server}: {message}", err=True)


def _show(plan: Any, output: str) -> None:
    from remediate.cli.render import plan_text

    click.echo(json.dumps(plan.to_dict(), indent=2) if output == "json" else plan_text(plan))


@click.command()
@click.argument("playbook_name", metavar="PLAYBOOK")
@connection_options
@OUTPUT
@click.pass_context
def plan(ctx: click.Context, playbook_name: str, output: str, **options: Any) -> None:
    """Show what PLAYBOOK would change on the servers. Reads only; changes nothing."""
    _run(ctx, playbook_name, output, options, apply=False)


@click.command()
@click.argument("playbook_name", metavar="PLAYBOOK")
@connection_options
@click.option("--dry-run", is_flag=True, help="Show the plan and stop: nothing is changed.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--change-id", help="Your change ticket (e.g. CHG123), recorded in the journal.")
@click.option("--break-lock", is_flag=True, help="Take over a server lock left by a dead run (asks first).")
@click.option(
    "--health-timeout",
    type=click.FloatRange(min=0),
    default=120,
    show_default=True,
    help="Seconds the servers have to be healthy after the handlers run.",
)
@OUTPUT
@click.pass_context
def apply(ctx: click.Context, playbook_name: str, dry_run: bool, output: str, **options: Any) -> None:
    """Apply PLAYBOOK: show the plan, ask, then snapshot, write, verify, restart and check,
    rolling everything back if any of it fails. With --dry-run: the plan only."""
    _run(ctx, playbook_name, output, options, apply=not dry_run)


def _run(
    ctx: click.Context, playbook_name: str, output: str, options: dict[str, Any], *, apply: bool
) -> None:
    from remediate import playbook
    from remediate.planner import make_plan
    from remediate.remote import Remote

    settings = {key: options.pop(key, None) for key in ("yes", "change_id", "break_lock", "health_timeout")}
    loaded = playbook.load(playbook_name)
    run_targets = targets(ctx, options)
    sessions = run_targets.sessions()
    try:
        the_plan = make_plan(loaded, [Remote(session) for session in sessions.values()])
        _show(the_plan, output)
        if not apply:
            if the_plan.errors:
                sys.exit(ExitCode.ERROR)
            return
        if the_plan.errors:
            raise RemediateError(
                "plan-has-errors",
                "the plan has errors, so nothing was applied",
                "fix the errors above and run again",
            )
        _apply(ctx, the_plan, loaded, sessions, run_targets, options, settings)
    finally:
        for session in sessions.values():
            session.close()
        run_targets.close()


def _apply(
    ctx: click.Context,
    the_plan: Any,
    loaded: Any,
    sessions: Any,
    run_targets: Any,
    options: Any,
    settings: Any,
) -> None:
    from remediate.cli.render import outcome_text
    from remediate.executor import apply_plan
    from remediate.hosts import connection_meta
    from remediate.journal import operator

    if the_plan.to_change:
        where = ", ".join(server.server for server in the_plan.servers)
        confirm(f"Apply {the_plan.to_change} change(s) to {where}?", settings["yes"])
    if settings["break_lock"]:
        confirm("Break the remediate lock on these servers, even if another run holds it?", settings["yes"])
    journal = journal_for(ctx)
    try:
        outcome = apply_plan(
            the_plan,
            loaded,
            sessions,
            journal,
            operator=operator(run_targets.credentials.username),
            change_id=settings["change_id"],
            hosts=run_targets.meta(given_hosts(options)),
            connection=connection_meta(run_targets.connection),
            progress=progress,
            health_timeout=settings["health_timeout"],
            break_lock=settings["break_lock"],
        )
    finally:
        journal.close()
    click.echo(outcome_text(outcome))
    if not outcome.ok:
        sys.exit(ExitCode.ERROR)


COMMANDS = (plan, apply)
