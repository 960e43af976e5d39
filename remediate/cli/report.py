"""`remediate report`: a run or a saved plan as a change ticket's attachment, in Markdown or as
one self-contained HTML file (no scripts, no network: inline styles; prints on paper).

Everything that came from a server, a playbook or an operator is escaped: a report is opened
by people who did not write what is in it."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from remediate.cli import completion
from remediate.support.errors import RemediateError

if TYPE_CHECKING:  # `--help` does not load the use case
    from remediate.app.reporting import Report

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b1f24; margin: 2em auto;
       max-width: 60em; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { font-size: 1.15em; margin-top: 1.6em;
     border-bottom: 1px solid #d0d7de; } h3 { font-size: 1em; margin: 1.2em 0 .3em; }
table { border-collapse: collapse; margin: .4em 0; } td, th { border: 1px solid #d0d7de; padding: .25em .6em;
        text-align: left; vertical-align: top; } th { background: #f6f8fa; }
pre { background: #f6f8fa; padding: .6em; overflow-x: auto; font-size: 12px; white-space: pre-wrap;
      word-break: break-all; }
.line { display: block; min-height: 1.2em; } .add { color: #116329; background: #dafbe1; }
.del { color: #82071e; background: #ffebe9; } .hunk { color: #6639ba; }
.ok { color: #116329; font-weight: 600; } .bad { color: #cf222e; font-weight: 600; }
.notice { border-left: 4px solid #bf8700; background: #fff8c5; padding: .5em .8em; }
@media print { pre { white-space: pre-wrap; } h2 { page-break-after: avoid; } }
"""
GOOD = ("succeeded", "applied", "verified", "rolled-back", "no-change", "restored the snapshot")


def _facts(report: Report) -> list[tuple[str, str]]:
    facts = [
        ("Playbook", f"{report.playbook} ({report.source})"),
        ("Playbook sha256", report.digest),
        ("Status", report.status),
        ("Operator", report.operator),
        ("Change", report.change_id or "-"),
        ("Servers", ", ".join(report.servers) or "-"),
    ]
    if report.run_id:
        facts.insert(0, ("Run", report.run_id))
    if report.started:
        facts.append(("Started" if report.run_id else "Planned", report.started))
    if report.finished:
        facts.append(("Finished", report.finished))
    if report.rolls_back:
        facts.append(("Rolls back", report.rolls_back))
    if report.rolled_back_by:
        facts.append(("Rolled back by", report.rolled_back_by))
    if report.failure:
        facts.append(("Failure", report.failure))
    return facts


def markdown(report: Report) -> str:
    def cell(text: Any) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = [f"# {report.title}", ""]
    if report.notice:
        lines += [f"> **Note:** {report.notice}", ""]
    lines += ["| | |", "|---|---|", *(f"| {name} | {cell(value)} |" for name, value in _facts(report)), ""]
    if report.preflight:
        labels = [check.label for check in report.preflight[0].checks]
        lines += ["## Preflight", "", "| Server | Exchange build | " + " | ".join(labels) + " |"]
        lines.append("|---" * (2 + len(labels)) + "|")
        for server in report.preflight:
            results = [c.result for c in server.checks]
            lines.append(
                f"| {cell(server.server)} | {cell(server.build or '-')} | "
                + " | ".join(map(cell, results))
                + " |"
            )
        lines.append("")
    lines += ["## Steps", ""]
    for step in report.steps:
        lines += [f"### {step.seq}. {step.server}: {step.step}", "", f"- target: `{step.target}`"]
        lines.append(f"- {step.summary}")
        lines.append(f"- status: **{step.status}**" + (f": {step.message}" if step.message else ""))
        if step.started or step.finished:
            lines.append(f"- time: {step.started or '-'} to {step.finished or '-'}")
        if step.diff:
            lines += ["", "```diff", step.diff.rstrip("\n"), "```"]
        elif step.before is not None or step.after is not None:
            lines += [f"- before: {step.before}", f"- after: {step.after}"]
        lines.append("")
    if report.handlers:
        lines += ["## Handlers and health", "", *(f"- {line}" for line in report.handlers), ""]
    return "\n".join(lines)


def _diff_html(diff: str) -> str:
    """A unified diff, one block per line (added green, removed red, hunk headers violet)."""
    kinds = (("+++", ""), ("---", ""), ("@@", "hunk"), ("+", "add"), ("-", "del"))
    spans = []
    for line in diff.rstrip("\n").splitlines():
        kind = next((css for prefix, css in kinds if line.startswith(prefix)), "")
        spans.append(f'<span class="line {kind}">{html.escape(line) or " "}</span>')
    return '<pre class="diff">' + "".join(spans) + "</pre>"


def _status_html(status: str) -> str:
    good = status in GOOD or status.startswith("succeeded")
    bad = any(word in status for word in ("fail", "incomplete", "conflict", "interrupted", "error"))
    css = "ok" if good else "bad" if bad else ""
    return f'<span class="{css}">{html.escape(status)}</span>' if css else html.escape(status)


def html_page(report: Report) -> str:
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(report.title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{e(report.title)}</h1>",
    ]
    if report.notice:
        parts.append(f'<p class="notice"><strong>Note:</strong> {e(report.notice)}</p>')
    rows = "".join(
        f"<tr><th>{e(name)}</th><td>{_status_html(value) if name == 'Status' else e(value)}</td></tr>"
        for name, value in _facts(report)
    )
    parts.append(f"<table>{rows}</table>")
    if report.preflight:
        labels = [check.label for check in report.preflight[0].checks]
        head = "".join(f"<th>{e(label)}</th>" for label in ["Server", "Exchange build", *labels])
        body = "".join(
            "<tr>"
            + f"<td>{e(server.server)}</td><td>{e(server.build or '-')}</td>"
            + "".join(f"<td>{_status_html(c.result)}</td>" for c in server.checks)
            + "</tr>"
            for server in report.preflight
        )
        parts += ["<h2>Preflight</h2>", f"<table><tr>{head}</tr>{body}</table>"]
    parts.append("<h2>Steps</h2>")
    for step in report.steps:
        parts.append(f"<h3>{step.seq}. {e(step.server)}: {e(step.step)}</h3>")
        parts.append(
            f"<p><code>{e(step.target)}</code><br>{e(step.summary)}<br>status: {_status_html(step.status)}"
        )
        if step.message:
            parts.append(f": {e(step.message)}")
        if step.started or step.finished:
            parts.append(f"<br>time: {e(step.started or '-')} to {e(step.finished or '-')}")
        parts.append("</p>")
        if step.diff:
            parts.append(_diff_html(step.diff))
        elif step.before is not None or step.after is not None:
            parts.append(
                f"<table><tr><th>before</th><td>{e(step.before or '')}</td></tr>"
                f"<tr><th>after</th><td>{e(step.after or '')}</td></tr></table>"
            )
    if report.handlers:
        items = "".join(f"<li>{e(line)}</li>" for line in report.handlers)
        parts += ["<h2>Handlers and health</h2>", f"<ul>{items}</ul>"]
    parts.append("</body></html>")
    return "\n".join(parts)


@click.command()
@click.argument("what", metavar="RUN|PLAN-FILE", shell_complete=completion.runs_or_files)
@click.option("--format", "form", type=click.Choice(["html", "md"]), default="html", show_default=True)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write it here (else standard output)."
)
@click.pass_context
def report(ctx: click.Context, what: str, form: str, out: Path | None) -> None:
    """A change ticket's attachment: a run (from this journal) or a saved plan (before
    approval), with the playbook and its digest, operator, change, servers, preflight, each
    step's diff or values, outcome, timings, handlers and health."""
    from remediate.app import reporting
    from remediate.app.applying import is_saved_plan
    from remediate.cli.common import state_dir
    from remediate.cli.playbooks import RUN_ID

    if is_saved_plan(what):
        found = reporting.of_saved_plan(Path(what))
    elif RUN_ID.match(what):
        found = reporting.of_run(state_dir(ctx), what)
    else:
        raise RemediateError(
            "report-what", f"{what!r} is neither a run id nor a saved plan", "`remediate runs` lists the runs"
        )
    text = html_page(found) if form == "html" else markdown(found)
    if out is None:
        click.echo(text)
        return
    out.write_text(text + "\n", encoding="utf-8")
    click.echo(f"report written to {out}", err=True)


COMMANDS = (report,)
