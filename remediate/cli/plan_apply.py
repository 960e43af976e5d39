"""`remediate plan`, `check`, `apply`: what a playbook would change, and changing it."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from remediate.cli.common import (
    BREAK_LOCK,
    confirm,
    confirm_break_lock,
    connection_options,
    given_hosts,
    journal_for,
    targets,
)
from remediate.support.errors import ExitCode, RemediateError

OUTPUT = click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
CHANGE_ID = click.option(
    "--change-id", help="Your change ticket (e.g. CHG123): in the journal and every log line."
)
CHANGES_PENDING = 2  # --detailed-exitcode: the plan has changes


def progress_printer() -> Any:
    """Progress lines on standard error, with the time since the run started."""
    started = time.monotonic()

    def progress(server: str, message: str) -> None:
        where = f"{server}: " if server else ""
        click.echo(f"  [{time.monotonic() - started:6.1f}s] {where}{message}", err=True)

    return progress


def _bind_change_id(change_id: str | None) -> None:
    if change_id:
        from remediate.support import logs

        logs.bind(change_id=change_id)


def _show(plan: Any, output: str) -> None:
    from remediate.cli.render import plan_text

    click.echo(json.dumps(plan.to_dict(), indent=2) if output == "json" else plan_text(plan))


def _exit(plan: Any, detailed: bool) -> None:
    if plan.errors:
        sys.exit(ExitCode.ERROR)
    if detailed and plan.to_change:
        sys.exit(CHANGES_PENDING)


@click.command()
@click.argument("playbook_name", metavar="PLAYBOOK")
@connection_options
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
    _bind_change_id(change_id)
    with _planned(ctx, playbook_name, options) as (the_plan, loaded, _sessions, run_targets):
        _show(the_plan, output)
        if out is not None:
            from remediate.model import saved_plan
            from remediate.app.fleet import connection_meta

            digest = saved_plan.save(
                out,
                the_plan,
                loaded,
                run_targets.meta(given_hosts(options)),
                connection_meta(run_targets.connection),
                change_id,
            )
            click.echo(
                f"plan saved to {out} (sha256 {digest}): apply it with "
                f"`remediate apply {out} --expect-digest {digest}`",
                err=True,
            )
        _exit(the_plan, detailed_exitcode)


@click.command()
@click.argument("playbook_name", metavar="PLAYBOOK")
@connection_options
@OUTPUT
@click.pass_context
def check(ctx: click.Context, playbook_name: str, output: str, **options: Any) -> None:
    """`plan --detailed-exitcode`: exit 0 if nothing would change, 2 if something would
    (drift, e.g. a cumulative update replaced web.config), 1 on errors. For cron and CI."""
    with _planned(ctx, playbook_name, options) as (the_plan, _loaded, _sessions, _targets):
        _show(the_plan, output)
        _exit(the_plan, True)


# Servers whose connection is opened while the playbook is validated (the rest open as read).
CONNECT_AHEAD = 16


class _planned:
    """Load, connect, plan; close the sessions (and the embedded simulator) at the end."""

    def __init__(self, ctx: click.Context, playbook_name: str, options: dict[str, Any]) -> None:
        self.ctx, self.playbook_name, self.options = ctx, playbook_name, options

    def __enter__(self) -> tuple[Any, Any, Any, Any]:
        from remediate.model import catalog

        catalog.locate(self.playbook_name)  # a mistyped name fails before anything else
        try:
            self.targets = targets(self.ctx, self.options)
        except RemediateError:
            from remediate.model import playbook

            playbook.load(self.playbook_name)  # a broken playbook is the first thing to fix
            raise
        self.sessions = self.targets.sessions()
        try:
            for session in list(self.sessions.values())[:CONNECT_AHEAD]:
                session.connect_soon()  # while the playbook model is imported and the playbook validated
            from remediate.model import playbook
            from remediate.engine.decide import make_plan
            from remediate.winrm.reader import Remote

            loaded = playbook.load(self.playbook_name)
            the_plan = make_plan(loaded, [Remote(session) for session in self.sessions.values()])
        except BaseException:
            self.__exit__()
            raise
        return the_plan, loaded, self.sessions, self.targets

    def __exit__(self, *exc: Any) -> None:
        for session in getattr(self, "sessions", {}).values():
            session.close()
        if hasattr(self, "targets"):
            self.targets.close()


@click.command()
@click.argument("playbook_name", metavar="PLAYBOOK|PLAN-FILE")
@connection_options
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
    keys = ("yes", "change_id", "break_lock", "health_timeout", "serial", "max_failures", "expect_digest")
    settings = {key: options.pop(key) for key in keys}
    _bind_change_id(settings["change_id"])
    if _is_plan_file(playbook_name):
        _apply_saved(ctx, Path(playbook_name), dry_run, output, options, settings)
        return
    with _planned(ctx, playbook_name, options) as (the_plan, loaded, sessions, run_targets):
        _show(the_plan, output)
        if dry_run:
            _exit(the_plan, False)
            return
        _apply(ctx, the_plan, loaded, sessions, run_targets, run_targets.meta(given_hosts(options)), settings)


def _is_plan_file(argument: str) -> bool:
    """A saved plan (`.plan`, or JSON under another name) rather than a playbook."""
    path = Path(argument)
    if path.suffix == ".plan":
        return True
    if not path.is_file() or path.suffix in (".yaml", ".yml"):
        return False
    with path.open("rb") as handle:
        return handle.read(64).lstrip().startswith(b"{")


def _apply_saved(
    ctx: click.Context,
    path: Path,
    dry_run: bool,
    output: str,
    options: dict[str, Any],
    settings: dict[str, Any],
) -> None:
    from remediate.model import saved_plan
    from remediate.cli.common import targets_for_run
    from remediate.winrm.reader import Remote

    if options["hosts"] or options["inventory"]:
        raise RemediateError(
            "host-invalid", "a saved plan names its servers: give no --host or -i with it", "drop them"
        )
    saved = saved_plan.load(path)
    expected = settings.get("expect_digest")
    # the digest of the content just read and checked, not of the file read again: a file
    # swapped in between must not pass for the reviewed one
    if expected and saved.digest != expected.lower():
        raise RemediateError(
            "plan-not-the-reviewed-one",
            f"{path} has digest {saved.digest}, not {expected}: it is not the plan that was reviewed",
            "apply the file attached to the change ticket, or have this one reviewed",
        )
    if settings["change_id"] and saved.change_id and settings["change_id"] != saved.change_id:
        raise RemediateError(
            "plan-change-id",
            f"{path} was made for change {saved.change_id}, not {settings['change_id']}",
            "apply it under the change it was reviewed for (or drop --change-id)",
        )
    settings["change_id"] = settings["change_id"] or saved.change_id
    _bind_change_id(settings["change_id"])
    run_targets = targets_for_run(ctx, saved, options["username"], options["ca_file"])
    sessions = run_targets.sessions()
    try:
        the_plan = saved_plan.fresh(saved, {name: Remote(session) for name, session in sessions.items()})
        click.echo(
            f"Saved plan {path} (made {saved.created}, sha256 {saved.digest}), derived again "
            "from its playbook and the servers' current state: it is the reviewed plan.",
            err=True,
        )
        _show(the_plan, output)
        if not dry_run:
            _apply(ctx, the_plan, saved.playbook, sessions, run_targets, saved.hosts, settings)
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
    hosts: dict[str, Any],
    settings: dict[str, Any],
) -> None:
    from remediate.cli.render import outcome_text
    from remediate.engine.apply import apply_plan
    from remediate.app.fleet import connection_meta
    from remediate.engine.journal import operator

    if the_plan.errors:
        raise RemediateError(
            "plan-has-errors",
            "the plan has errors, so nothing was applied",
            "fix the errors above and run again",
        )
    if the_plan.to_change:
        where = ", ".join(server.server for server in the_plan.servers)
        confirm(f"Apply {the_plan.to_change} change(s) to {where}?", settings["yes"])
    confirm_break_lock(settings["break_lock"], settings["yes"])
    journal = journal_for(ctx)
    try:
        outcome = apply_plan(
            the_plan,
            loaded,
            sessions,
            journal,
            operator=operator(run_targets.credentials.username),
            change_id=settings["change_id"],
            hosts=hosts,
            connection=connection_meta(run_targets.connection),
            progress=progress_printer(),
            health_timeout=settings["health_timeout"],
            break_lock=settings["break_lock"],
            serial=settings["serial"],
            max_failures=settings["max_failures"],
        )
    finally:
        journal.close()
    click.echo(outcome_text(outcome))
    if not outcome.ok:
        sys.exit(ExitCode.ERROR)


COMMANDS = (plan, check, apply)
