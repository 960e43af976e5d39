"""`remediate list`, `show`, `validate`, `schema`: the playbooks themselves."""

from __future__ import annotations

import json
import re
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

import click

from remediate.cli import completion
from remediate.cli.common import connection_options, emit, error_lines, json_output
from remediate.support.errors import ExitCode, RemediateError


@click.command("list")
@click.option(
    "--full", is_flag=True, help="Each playbook's whole description (and notice), not its first sentence."
)
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def list_playbooks(ctx: click.Context, full: bool, output: str) -> None:
    """List the built-in playbooks."""
    from remediate.model import catalog, playbook

    books = [playbook.load(name) for name in catalog.builtin_names()]
    if json_output(ctx, output):
        from remediate.model.documents import ListDocument

        entries = [
            {
                "name": b.name,
                "description": b.playbook.description,
                "notice": b.playbook.notice,
                "digest": b.digest,
            }
            for b in books
        ]
        emit(ListDocument.model_validate({"playbooks": entries}))
        return
    width = max(90, shutil.get_terminal_size((120, 24)).columns)
    for book in books:
        description = book.playbook.description
        if not full:
            first = description.split(". ")[0].rstrip(".")
            click.echo(f"{book.name:<28} {textwrap.shorten(first, width - 30, placeholder=' ...')}")
            continue
        click.echo(click.style(book.name, bold=True))
        click.echo(textwrap.fill(description, width - 2, initial_indent="  ", subsequent_indent="  "))
        if book.playbook.notice:
            click.echo(
                textwrap.fill(
                    book.playbook.notice, width - 2, initial_indent="  note: ", subsequent_indent="        "
                )
            )


RUN_ID = re.compile(r"^\d{8}T\d{6}-[0-9a-f]{6}$")


@click.command()
@click.argument("name", metavar="PLAYBOOK|RUN|PLAN-FILE", shell_complete=completion.runs_or_playbooks)
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@connection_options
@click.pass_context
def show(ctx: click.Context, name: str, output: str, **options: Any) -> None:
    """Show a playbook (built-in name or file) step by step, or a run (its steps, diffs, outcome):
    from this journal, or with --host or -i from the servers' records (a run made elsewhere)."""
    if RUN_ID.match(name):
        from remediate.cli.runs import show_run

        show_run(ctx, name, output, options)
        return
    from remediate.app.applying import is_saved_plan

    if is_saved_plan(name):
        _show_saved_plan(ctx, Path(name), output)
        return
    if json_output(ctx, output):
        from remediate.model import playbook
        from remediate.model.documents import PlaybookDocument

        loaded = playbook.load(name)
        emit(
            PlaybookDocument(
                name=loaded.name,
                source=loaded.source,
                digest=loaded.digest,
                playbook=loaded.playbook.model_dump(mode="json", exclude_unset=True),
            )
        )
        return
    _show_playbook(name)


def _show_saved_plan(ctx: click.Context, path: Path, output: str) -> None:
    """A saved plan, offline: what was reviewed (nothing is reached; `apply` derives it again)."""
    from remediate.app.applying import load_saved
    from remediate.cli.render import plan_text

    saved = load_saved(path, None, None)
    if json_output(ctx, output):
        from remediate.model.documents import PlanDocument

        emit(PlanDocument.model_validate(saved.plan.to_dict()))
        return
    given = ", ".join(saved.hosts.get("given", [])) or "-"
    click.echo(
        click.style(f"Saved plan {path}", bold=True)
        + f"  sha256 {saved.digest}\n  made {saved.created}"
        + (f", change {saved.change_id}" if saved.change_id else "")
        + f"; servers: {given}\n  apply it with `remediate apply {path} --expect-digest {saved.digest}`"
    )
    click.echo(plan_text(saved.plan))


def _show_playbook(playbook_name: str) -> None:
    from remediate.kinds.handlers import REGISTRY as HANDLERS
    from remediate.model import playbook

    loaded = playbook.load(playbook_name)
    book = loaded.playbook
    click.echo(click.style(book.name, bold=True) + f"  ({loaded.source}, sha256 {loaded.digest[:12]})")
    click.echo(textwrap.fill(book.description, 92, initial_indent="  ", subsequent_indent="  "))
    if book.support:
        words = {
            "supported": "a setting Microsoft supports",
            "documented": "a repair Microsoft documents",
            "unsupported": "NOT supported by Microsoft",
        }
        click.echo(f"  support: {book.support} ({words[book.support]})")
    if book.microsoft_source:
        click.echo(
            textwrap.fill(
                book.microsoft_source, 92, initial_indent="  source: ", subsequent_indent="          "
            )
        )
    if book.notice:
        click.echo(
            click.style(
                textwrap.fill(book.notice, 92, initial_indent="  note: ", subsequent_indent="        "),
                fg="yellow",
            )
        )
    if book.variables:
        click.echo("variables (--var NAME=VALUE):")
        for name, variable in book.variables.items():
            default = f", default {variable.default!r}" if variable.default is not None else ", no default"
            about = f": {variable.description}" if variable.description else ""
            click.echo(f"  {name} ({variable.type}{default}){about}")
    if book.preconditions:
        click.echo("preconditions:")
        for precondition in book.preconditions:
            click.echo(f"  - {precondition.kind}: {precondition.describe()}")
    click.echo("steps:")
    for number, step in enumerate(book.steps, start=1):
        where = "every server" if step.effective_scope == "server" else "once for the organization"
        click.echo(f"  {number}. {step.name}  [{step.kind}, {where}]")
        click.echo(f"     {step.resource.describe(step.settings)}")
        if step.notify:
            click.echo(f"     notifies: {', '.join(step.notify)}")
    if book.handlers:
        click.echo("handlers:")
        for handler in book.handlers:
            click.echo(f"  {handler.name}: {'; '.join(HANDLERS[handler.kind].commands(handler.settings))}")


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Check playbook files; errors name file:line:column and the bad key."""
    from remediate.model import playbook

    failed = False
    for path in files:
        try:
            loaded = playbook.load(str(path))
        except RemediateError as error:
            failed = True
            for line in error_lines(error):
                click.echo(line, err=True)
            continue
        click.echo(f"ok: {path} ({loaded.name}, {len(loaded.playbook.steps)} steps)")
    if failed:
        sys.exit(ExitCode.ERROR)


SCHEMAS = (
    "playbook",
    "set",
    "plan",
    "apply",
    "rollback",
    "runs",
    "run",
    "prune",
    "show",
    "list",
    "diagnose",
    "error",
)


@click.command()
@click.option(
    "--output",
    "which",
    type=click.Choice(SCHEMAS),
    default="playbook",
    show_default=True,
    help="playbook: what a playbook file may hold (for editors that complete YAML); set: what a "
    "playbook set may hold; the others: what "
    "`--output json` prints (plan and check: plan; show PLAYBOOK: show; show RUN: run; any failure: error).",
)
def schema(which: str) -> None:
    """Print a JSON Schema: of playbook files, or of a command's `--output json` document."""
    if which == "playbook":
        from remediate.model import playbook

        click.echo(json.dumps(playbook.json_schema(), indent=2))
        return
    if which == "set":
        from remediate.model import playbook_set

        click.echo(json.dumps(playbook_set.json_schema(), indent=2))
        return
    from remediate.model.documents import DOCUMENTS

    model = DOCUMENTS["playbook" if which == "show" else which]
    click.echo(json.dumps(model.model_json_schema(), indent=2))


COMMANDS = (list_playbooks, show, validate, schema)
