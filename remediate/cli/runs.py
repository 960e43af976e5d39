"""`remediate runs`, `remediate rollback`: the journal, and undoing a run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from remediate.cli.common import (
    BREAK_LOCK,
    confirm,
    confirm_break_lock,
    journal_for,
    run_fleet_opener,
    state_dir,
)
from remediate.support.errors import ExitCode


@click.command()
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def runs(ctx: click.Context, limit: int, output: str) -> None:
    """Recent runs and their status, newest first."""
    from remediate.app.history import recent, run_summary
    from remediate.cli.render import runs_table

    found = recent(state_dir(ctx), limit)
    if output == "json":
        rows = [run_summary(run) for run in found]
        click.echo(json.dumps(rows, indent=2))
    else:
        click.echo(runs_table(found) if found else "no runs yet")


def show_run(ctx: click.Context, run_id: str, output: str) -> None:
    from remediate.app.history import one
    from remediate.cli.render import run_text

    run, steps, events = one(state_dir(ctx), run_id)
    if output == "json":
        data = {**{k: v for k, v in run.__dict__.items() if k != "stored_status"}, "status": run.status}
        data["steps"] = [
            {k: v for k, v in step.__dict__.items() if k not in ("before_state", "after_state")}
            for step in steps
        ]
        data["events"] = [{"time": t, "server": s, "message": m} for t, s, m in events]
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(run_text(run, steps, events))


@click.command()
@click.argument("run_id", metavar="RUN")
@click.option("--dry-run", is_flag=True, help="Show what would be restored, change nothing.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--strategy",
    type=click.Choice(["exact", "inverse"]),
    default="exact",
    show_default=True,
    help="exact: restore the snapshots; inverse: where a target changed since, undo only this run's change.",
)
@click.option("--force", is_flag=True, help="Restore the exact snapshots even over later changes.")
@BREAK_LOCK
@click.option("--health-timeout", type=click.FloatRange(min=0), default=120, show_default=True)
@click.option("-u", "--username", envvar="REMEDIATE_USERNAME", show_envvar=True)
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A file holding the password on one line (chmod 600).",
)
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Override the CA file recorded with the run.",
)
@click.pass_context
def rollback(
    ctx: click.Context,
    run_id: str,
    dry_run: bool,
    yes: bool,
    strategy: str,
    force: bool,
    break_lock: str | None,
    health_timeout: float,
    username: str | None,
    ca_file: Path | None,
    password_file: Path | None,
) -> None:
    """Undo RUN: restore every target it wrote to its exact snapshot, run the handlers, verify."""
    from remediate.app import undoing
    from remediate.cli.plan_apply import progress_printer
    from remediate.cli.render import outcome_text
    from remediate.model.status import Preview

    settings = undoing.UndoSettings(strategy, force, break_lock, health_timeout)
    journal = journal_for(ctx)
    try:
        run = undoing.prepare(journal, run_id)
        with run_fleet_opener(ctx, run.hosts, run.connection, username, ca_file, password_file)() as fleet:
            if dry_run:
                if run.status == "interrupted":
                    click.echo(
                        f"Run {run.id} died: commands it left running on a server may still change what is "
                        "shown here (the rollback stops them first).",
                        err=True,
                    )
            else:
                for line in undoing.settle(journal, run, fleet):  # before anything is read
                    click.echo(f"  {line}", err=True)
            preview = undoing.preview(journal, run, fleet)
            click.echo(f"Rollback of run {run.id} ({run.playbook}, {run.status}):")
            for step in preview:
                click.echo(f"  {step.status:<9} {step.server}: {step.target}: {step.message}")
            if dry_run:
                return
            if any(step.status == Preview.CONFLICT for step in preview) and strategy == "exact" and not force:
                click.echo(
                    "Some targets changed since the run: they will be left alone unless you choose "
                    "--strategy inverse or --force.",
                    err=True,
                )
            confirm(f"Roll back run {run.id}?", yes)
            confirm_break_lock(break_lock, yes)
            outcome = undoing.roll_back(journal, run, fleet, settings, progress_printer())
        click.echo(outcome_text(outcome))
        if outcome.status != "succeeded":
            sys.exit(ExitCode.ERROR)
    finally:
        journal.close()


COMMANDS = (runs, rollback)
