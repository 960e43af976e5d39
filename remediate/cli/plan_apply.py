"""`remediate plan`, `check`, `apply`: what a playbook would change, and changing it."""

from __future__ import annotations

import json
import sys
import time
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
)
from remediate.support.errors import ExitCode, RemediateError

OUTPUT = click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)


def _variables(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    given = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{value!r} is not NAME=VALUE", ctx, param)
        given[name] = text
    return given


VARS = click.option(
    "--var",
    "variables",
    multiple=True,
    metavar="NAME=VALUE",
    callback=_variables,
    help="A value for one of the playbook's variables (repeat for more); shown in the plan.",
)
VAR_FILE = click.option(
    "--var-file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Values for the playbook's variables from a YAML file (NAME: VALUE per line); --var wins.",
)
CHANGE_ID = click.option(
    "--change-id", help="Your change ticket (e.g. CHG123): in the journal and every log line."
)
CHANGES_PENDING = 2  # --detailed-exitcode: the plan has changes


def progress_printer(ctx: click.Context | None = None) -> Any:
    """Progress lines on standard error, with the time since the run started; with
    `--log-format json`, one JSON event per line (event "progress", server, message, elapsed)."""
    from remediate.cli.common import Context

    started = time.monotonic()
    context = ctx.find_object(Context) if ctx is not None else None
    as_json = context is not None and context.json_progress

    def progress(server: str, message: str) -> None:
        elapsed = time.monotonic() - started
        if as_json:
            event = {
                "event": "progress",
                "elapsed": round(elapsed, 1),
                "server": server or None,
                "message": message,
            }
            click.echo(json.dumps(event), err=True)
            return
        where = f"{server}: " if server else ""
        click.echo(f"  [{elapsed:6.1f}s] {where}{message}", err=True)

    return progress


def _bind_change_id(change_id: str | None) -> None:
    if change_id:
        from remediate.support import logs

        logs.bind(change_id=change_id)


def _show(ctx: click.Context, plan: Any, output: str) -> None:
    """`plan`, `check`: the plan, as text or as one JSON document."""
    from remediate.cli.render import plan_text

    if json_output(ctx, output):
        from remediate.model.documents import PlanDocument

        emit(PlanDocument.model_validate(plan.to_dict()))
    else:
        click.echo(plan_text(plan))


def _show_before_applying(ctx: click.Context, plan: Any, output: str, yes: bool) -> None:
    """`apply`: the plan before anything is done. With --output json the document comes at the
    end (plan and outcome together); the plan is shown as text on standard error when the
    operator is asked to confirm it."""
    from remediate.cli.render import plan_text

    if not json_output(ctx, output):
        click.echo(plan_text(plan))
    elif not yes:
        click.echo(plan_text(plan), err=True)


def _applied(plan: Any, outcome: Any) -> None:
    from remediate.model.documents import ApplyDocument

    emit(
        ApplyDocument.model_validate(
            {"plan": plan.to_dict(), "outcome": outcome.to_dict() if outcome is not None else None}
        )
    )


def _exit(plan: Any, detailed: bool) -> None:
    if plan.errors:
        sys.exit(ExitCode.ERROR)
    if detailed and plan.to_change:
        sys.exit(CHANGES_PENDING)


@click.command()
@click.argument("playbook_name", metavar="PLAYBOOK", shell_complete=completion.playbooks)
@connection_options
@VARS
@VAR_FILE
@OUTPUT
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the plan for review; `remediate apply FILE` then applies exactly it.",
)
@click.option(
    "--detailed-exitcode", is_flag=True, help="Exit 0 with no changes, 2 with changes pending, 1 on errors."
)
@CHANGE_ID
@click.pass_context
def plan(
    ctx: click.Context,
    playbook_name: str,
    output: str,
    out: Path | None,
    detailed_exitcode: bool,
    change_id: str | None,
    **options: Any,
) -> None:
    """Show what PLAYBOOK would change on the servers. Reads only; changes nothing."""
    from remediate.app.planning import save

    _bind_change_id(change_id)
    with _planned(ctx, playbook_name, options) as planned:
        _show(ctx, planned.plan, output)
        if out is not None:
            digest = save(out, planned, change_id)
            click.echo(
                f"plan saved to {out} (sha256 {digest}): apply it with "
                f"`remediate apply {out} --expect-digest {digest}`",
                err=True,
            )
        _exit(planned.plan, detailed_exitcode)


@click.command()
@click.argument("playbook_name", metavar="PLAYBOOK", shell_complete=completion.playbooks)
@connection_options
@VARS
@VAR_FILE
@OUTPUT
@click.pass_context
def check(ctx: click.Context, playbook_name: str, output: str, **options: Any) -> None:
    """`plan --detailed-exitcode`: exit 0 if nothing would change, 2 if something would
    (drift, e.g. a cumulative update replaced web.config), 1 on errors. For cron and CI."""
    with _planned(ctx, playbook_name, options) as planned:
        _show(ctx, planned.plan, output)
        _exit(planned.plan, True)


def _planned(ctx: click.Context, playbook_name: str, options: dict[str, Any]) -> Any:
    from remediate.app.planning import planned

    variables = options.pop("variables", {}) or {}
    var_file = options.pop("var_file", None)
    if var_file is not None:
        from remediate.model.variables import from_file

        variables = {**from_file(var_file), **variables}
    fleet = fleet_options(options)
    return planned(playbook_name, fleet_opener(ctx, fleet), fleet.given(), variables, fleet.forks)


@click.command()
@click.argument("playbook_name", metavar="PLAYBOOK|PLAN-FILE", shell_complete=completion.playbooks)
@connection_options
@VARS
@VAR_FILE
@click.option("--dry-run", is_flag=True, help="Show the plan and stop: nothing is changed.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@CHANGE_ID
@BREAK_LOCK
@click.option(
    "--expect-digest",
    metavar="SHA256",
    help="With a saved plan: refuse it unless its digest is this one (the digest printed when it was made, "
    "pinned in the change ticket).",
)
@click.option(
    "--serial",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Servers changed at a time; the next batch starts once this one is healthy (0: all at once).",
)
@click.option(
    "--max-failures",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Failed batches (each rolled back) to tolerate before stopping the run.",
)
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
    """Apply PLAYBOOK (or a saved plan): show the plan, ask, then snapshot, write, verify,
    restart and check, batch by batch, rolling back what fails. With --dry-run: the plan only."""
    from remediate.app.applying import ApplySettings, is_saved_plan

    yes, expect_digest = options.pop("yes"), options.pop("expect_digest")
    keys = ("change_id", "break_lock", "health_timeout", "serial", "max_failures")
    settings = ApplySettings(**{key: options.pop(key) for key in keys}, forks=options["forks"])
    _bind_change_id(settings.change_id)
    if is_saved_plan(playbook_name):
        _apply_saved(ctx, Path(playbook_name), dry_run, output, yes, expect_digest, options, settings)
        return
    with _planned(ctx, playbook_name, options) as planned:
        _show_before_applying(ctx, planned.plan, output, yes or dry_run)
        if dry_run:
            if output == "json":
                _applied(planned.plan, None)
            _exit(planned.plan, False)
            return
        _apply(ctx, planned, yes, settings, output)


def _apply_saved(
    ctx: click.Context,
    path: Path,
    dry_run: bool,
    output: str,
    yes: bool,
    expect_digest: str | None,
    options: dict[str, Any],
    settings: Any,
) -> None:
    from dataclasses import replace

    from remediate.app.applying import load_saved, saved_planned

    if options["hosts"] or options["inventory"]:
        raise RemediateError(
            "host-invalid", "a saved plan names its servers: give no --host or -i with it", "drop them"
        )
    if options.get("variables") or options.get("var_file"):
        raise RemediateError(
            "variable-invalid",
            "a saved plan carries its variables' values: give no --var or --var-file with it",
            "drop them",
        )
    saved = load_saved(path, expect_digest, settings.change_id)
    settings = replace(settings, change_id=settings.change_id or saved.change_id)
    _bind_change_id(settings.change_id)
    opener = run_fleet_opener(
        ctx, saved.hosts, saved.connection, options["username"], options["ca_file"], options["password_file"]
    )
    with saved_planned(saved, opener) as planned:
        click.echo(
            f"Saved plan {path} (made {saved.created}, sha256 {saved.digest}), derived again "
            "from its playbook and the servers' current state: it is the reviewed plan.",
            err=True,
        )
        _show_before_applying(ctx, planned.plan, output, yes or dry_run)
        if dry_run:
            if output == "json":
                _applied(planned.plan, None)
            return
        _apply(ctx, planned, yes, settings, output)


def _apply(ctx: click.Context, planned: Any, yes: bool, settings: Any, output: str) -> None:
    from remediate.app.applying import apply, refuse_errors
    from remediate.cli.render import outcome_text

    refuse_errors(planned)
    if planned.plan.to_change:
        where = ", ".join(server.server for server in planned.plan.servers)
        confirm(f"Apply {planned.plan.to_change} change(s) to {where}?", yes)
    confirm_break_lock(settings.break_lock, yes)
    journal = journal_for(ctx)
    try:
        outcome = apply(planned, journal, settings, progress_printer(ctx))
    finally:
        journal.close()
    if output == "json":
        _applied(planned.plan, outcome)
    else:
        click.echo(outcome_text(outcome))
    if not outcome.ok:
        sys.exit(ExitCode.ERROR)


COMMANDS = (plan, check, apply)
