"""`remediate runs`, `remediate rollback`: the journal, and undoing a run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from remediate.cli import completion
from remediate.cli.common import (
    BREAK_LOCK,
    confirm,
    confirm_break_lock,
    connection_options,
    emit,
    fleet_opener,
    fleet_options,
    journal_for,
    json_output,
    run_fleet_opener,
    state_dir,
)
from remediate.support.errors import ExitCode, RemediateError


@click.command()
@click.option("--last", type=click.IntRange(1, 10000), default=20, show_default=True, help="How many runs.")
@click.option("--change-id", help="Only the runs of this change.")
@click.option("--since", metavar="AGE|DATE", help="Only runs started since: 7d, 36h, or 2026-11-01[T08:00].")
@click.option("--status", help="Only runs with this status (succeeded, interrupted, rolled-back, ...).")
@click.option("--playbook", help="Only runs of this playbook.")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@connection_options
@click.pass_context
def runs(
    ctx: click.Context,
    last: int,
    change_id: str | None,
    since: str | None,
    status: str | None,
    playbook: str | None,
    output: str,
    **options: Any,
) -> None:
    """Recent runs and their status, newest first: this journal's, and with --host or -i those
    the servers record (made from any workstation), merged."""
    from remediate.app.team import RunFilter
    from remediate.app.team import runs as list_runs

    wanted = RunFilter(change_id, since, status, playbook)
    from remediate.cli.render import runs_table

    servers = fleet_options(options)
    if servers.hosts or servers.inventory:
        with fleet_opener(ctx, servers)() as fleet:
            found, problems = list_runs(state_dir(ctx), fleet, last, wanted)
    else:
        found, problems = list_runs(state_dir(ctx), None, last, wanted)
    for problem in problems:
        click.echo(click.style(f"warning: not listed: {problem}", fg="yellow"), err=True)
    if json_output(ctx, output):
        from remediate.model.documents import RunsDocument

        emit(RunsDocument(runs=found, problems=problems))
    else:
        click.echo(runs_table(found) if found else "no runs yet")
    if problems:
        sys.exit(ExitCode.ERROR)  # listed what could be read; said what could not


def show_run(ctx: click.Context, run_id: str, output: str, options: dict[str, Any]) -> None:
    """A run from this journal; with --host or -i, one the journal does not know from the
    servers' records."""
    from remediate.app.history import one
    from remediate.app.team import summary_of_records, summary_of_row
    from remediate.cli.render import record_text, run_text
    from remediate.support.errors import RemediateError

    servers = fleet_options(options)
    as_json = json_output(ctx, output)
    try:
        run, steps, events = one(state_dir(ctx), run_id)
    except RemediateError as error:
        if error.reference != "run-not-found" or not (servers.hosts or servers.inventory):
            raise
        from remediate.app.team import find

        with fleet_opener(ctx, servers)() as fleet:
            remote = find(fleet, run_id)
        if not as_json:
            click.echo(record_text(remote.records, remote.status()))
            return
        first = remote.first
        document: dict[str, Any] = {
            "run": summary_of_records(run_id, remote.records),
            "connection": first.connection,
            "handlers": first.handlers,
            "steps": [],
            "events": [],
            "outcome": None,
            "records": {server: record.model_dump(mode="json") for server, record in remote.records.items()},
        }
    else:
        if not as_json:
            click.echo(run_text(run, steps, events))
            return
        document = {
            "run": summary_of_row(run),
            "connection": run.connection,
            "handlers": run.handlers,
            "steps": [
                {k: v for k, v in step.__dict__.items() if k not in ("before_state", "after_state")}
                for step in steps
            ],
            "events": [{"time": t, "server": s, "message": m} for t, s, m in events],
            "outcome": run.report,
        }
    from remediate.model.documents import RunDocument

    emit(RunDocument.model_validate(document))


@click.command()
@click.argument("run_id", metavar="RUN", shell_complete=completion.runs)
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
@click.option(
    "--trust-journal",
    is_flag=True,
    help="Roll back from this journal even where the servers' records of the run are missing or disagree.",
)
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@connection_options
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
    trust_journal: bool,
    output: str,
    **options: Any,
) -> None:
    """Undo RUN: restore every target it wrote to its exact snapshot, run the handlers, verify.

    Without --host or -i, the run comes from this journal and its servers are reached as it
    reached them (-u, --password-file and --ca-file may override). With them, the run is found
    through those servers' records: also a run made on another workstation."""
    from remediate.app import undoing
    from remediate.cli.plan_apply import progress_printer
    from remediate.cli.render import outcome_text
    from remediate.model.status import Preview

    settings = undoing.UndoSettings(
        strategy, force, break_lock, health_timeout, trust_journal, forks=options["forks"]
    )
    as_json = json_output(ctx, output)
    servers = fleet_options(options)
    journal = used = journal_for(ctx)
    try:
        if servers.hosts or servers.inventory:
            opener = fleet_opener(ctx, servers)
        else:
            run = undoing.prepare(journal, run_id)
            opener = run_fleet_opener(
                ctx,
                run.hosts,
                run.connection,
                servers.username,
                options_ca_file(servers),
                servers.password_file,
            )
        with opener() as fleet:
            if servers.hosts or servers.inventory:
                run, reach, used = undoing.from_servers(journal, run_id, fleet, settings, dry_run=dry_run)
            else:
                reach = undoing.reach(fleet)
                undoing.check(journal, run, reach, settings)
            if dry_run:
                if run.status == "interrupted":
                    click.echo(
                        f"Run {run.id} died: commands it left running on a server may still change what is "
                        "shown here (the rollback stops them first).",
                        err=True,
                    )
            else:
                for line in undoing.settle(journal, run, reach):  # before anything is read
                    click.echo(f"  {line}", err=True)
            preview = undoing.preview(used, run, reach, settings)
            shown = not as_json or not (yes or dry_run)  # as text; on stderr when a document follows
            if shown:
                click.echo(f"Rollback of run {run.id} ({run.playbook}, {run.status}):", err=as_json)
                for step in preview:
                    click.echo(
                        f"  {step.status:<9} {step.server}: {step.target}: {step.message}", err=as_json
                    )
            if dry_run:
                if as_json:
                    _rolled_back(run.id, preview, None)
                return
            if any(step.status == Preview.CONFLICT for step in preview) and strategy == "exact" and not force:
                click.echo(
                    "Some targets changed since the run: they will be left alone unless you choose "
                    "--strategy inverse or --force.",
                    err=True,
                )
            confirm(f"Roll back run {run.id}?", yes)
            confirm_break_lock(break_lock, yes)
            outcome = undoing.roll_back(journal, run, reach, settings, progress_printer(ctx))
        if as_json:
            _rolled_back(run.id, preview, outcome)
        else:
            click.echo(outcome_text(outcome))
        if outcome.status != "succeeded":
            sys.exit(ExitCode.ERROR)
    finally:
        undoing.discard(used, journal)
        journal.close()


def _rolled_back(run_id: str, preview: list[Any], outcome: Any) -> None:
    from remediate.model.documents import RollbackDocument

    emit(
        RollbackDocument.model_validate(
            {
                "rolls_back": run_id,
                "preview": [step.__dict__ for step in preview],
                "outcome": outcome.to_dict() if outcome is not None else None,
            }
        )
    )


def options_ca_file(servers: Any) -> Path | None:
    """--ca-file, which overrides the CA file recorded with the run."""
    ca_file = servers.settings.get("ca_file")
    return Path(ca_file) if ca_file else None


@click.command()
@click.option(
    "--older-than",
    "older_than",
    required=True,
    metavar="AGE",
    help="Remove the records of runs that ended longer ago than this: 90d, 12w, 36h.",
)
@click.option("--dry-run", is_flag=True, help="Say what would be removed; remove nothing.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@connection_options
@click.pass_context
def prune(ctx: click.Context, older_than: str, dry_run: bool, yes: bool, output: str, **options: Any) -> None:
    """Remove old run records and their snapshots from the servers (%ProgramData%\\remediate).

    Never a run that is the latest to have changed a target (its snapshot is what undoes what
    the target holds now), nor one recorded as running, nor anything on a server a run has
    locked. This journal is not touched."""
    from remediate.app.team import parse_age
    from remediate.app.team import prune as prune_runs

    age = parse_age(older_than)
    servers = fleet_options(options)
    if not (servers.hosts or servers.inventory):
        raise RemediateError("no-servers", "prune needs the servers: --host or -i INVENTORY", None)
    if not dry_run:
        confirm(f"Remove run records older than {older_than} from the servers?", yes)
    with fleet_opener(ctx, servers)() as fleet:
        done = prune_runs(fleet, age, dry_run)
    if json_output(ctx, output):
        from remediate.model.documents import PruneDocument

        emit(PruneDocument.model_validate({"dry_run": dry_run, "results": [p.__dict__ for p in done]}))
        return
    for line in done:
        click.echo(f"{line.action:<40} {line.server}: run {line.run}")
    removed = sum(1 for p in done if p.action in ("removed", "would remove"))
    click.echo(f"{removed} record(s) {'would be ' if dry_run else ''}removed, {len(done) - removed} kept")


COMMANDS = (runs, rollback, prune)
