"""Plans as people read them: per server and step, what changes, with diffs and before -> after."""

from __future__ import annotations

import shutil
import textwrap
from typing import Any

import click

from remediate.kinds.preconditions import Check
from remediate.model.plan import Change, Plan, Problem
from remediate.model.status import Preview, RunStatus, ServerOutcome, StepStatus
from remediate.support.builds import product

MARKS = {"change": ("~", "yellow"), "none": ("=", "green"), "error": ("!", "red")}


def width() -> int:
    """The terminal's width (COLUMNS, else the terminal, else 100), at least 60 columns."""
    return max(60, shutil.get_terminal_size((100, 24)).columns)


def _styled(text: str, color: str | None, bold: bool = False) -> str:
    return click.style(text, fg=color, bold=bold) if color else text


def _problem(problem: Problem, indent: str) -> list[str]:
    lines = [f"{indent}{_styled('!', 'red', True)} {problem.reference}: {problem.message}"]
    if problem.hint:
        lines.append(f"{indent}hint: {problem.hint}")
    return lines


def _value_lines(change: Change, indent: str) -> list[str]:
    before, after = change.before, change.after
    if isinstance(before, list) or isinstance(after, list):
        old = {str(value) for value in before or []}
        new = {str(value) for value in after or []}
        added = [f"{indent}{_styled('+ ' + value, 'green')}" for value in sorted(new - old)]
        return added + [f"{indent}{_styled('- ' + value, 'red')}" for value in sorted(old - new)]
    return [f"{indent}before: {before!r}", f"{indent}after:  {after!r}"]


def _diff_lines(diff: str, indent: str) -> list[str]:
    colors = {"+": "green", "-": "red", "@": "cyan"}
    lines = []
    for line in diff.splitlines():
        color = None if line.startswith(("+++", "---")) else colors.get(line[:1])
        lines.append(indent + _styled(line, color))
    return lines


def _change(change: Change) -> list[str]:
    mark, color = MARKS[change.action]
    lines = [f"  {_styled(mark, color, True)} {change.step}"]
    if change.action == "error" and change.problem is not None:
        return lines + _problem(change.problem, "      ")
    target = f"{change.target}: " if change.target else ""
    lines.append(f"      {target}{change.summary}")
    if change.last_change:
        lines.append(_styled(f"      last changed by {change.last_change}", "cyan"))
    if change.action == "change":
        if change.diff:
            lines += _diff_lines(change.diff, "      ")
        else:
            lines += _value_lines(change, "        ")
    return lines


def plan_text(plan: Plan) -> str:
    lines = [
        _styled(f"Plan for {plan.playbook}", None, True) + f"  ({plan.source}, sha256 {plan.digest[:12]})"
    ]
    if plan.notice:
        wrapped = textwrap.wrap(plan.notice, min(110, width() - 10))
        lines += [
            _styled(f"  note: {wrapped[0]}", "yellow"),
            *(_styled(f"        {w}", "yellow") for w in wrapped[1:]),
        ]
    if plan.variables:
        lines.append(
            "  variables: " + ", ".join(f"{name}={value!r}" for name, value in plan.variables.items())
        )
    lines += _preflight(plan)
    for server in plan.servers:
        if not (server.changes or server.handlers or server.problem or server.locked_by):
            continue
        build = f"  {product(server.build)} ({server.build})" if server.build else ""
        endpoint = f"  {server.endpoint}" if server.endpoint != server.server else ""
        lines += ["", _styled(server.server, None, True) + f"{endpoint}{build}"]
        if server.variables:
            lines.append(
                "  variables here: "
                + ", ".join(f"{name}={value!r}" for name, value in server.variables.items())
            )
        if server.problem is not None:
            lines += _problem(server.problem, "  ")
            continue
        if server.locked_by:
            lines.append(
                _styled(
                    f"  ! locked by {server.locked_by}: a run is in progress here and may still change or roll "
                    'back; "no change" is not final',
                    "yellow",
                )
            )
        for change in server.changes:
            lines += _change(change)
        for handler in server.handlers:
            lines.append(f"  handler {handler.name}: {'; '.join(handler.commands)}")
            lines.append(f"      notified by: {'; '.join(handler.because)}")
    if plan.organization or plan.organization_problem:
        via = f" (through {plan.organization_via})" if plan.organization_via else ""
        lines += ["", _styled("organization", None, True) + via]
        if plan.organization_problem is not None:
            lines += _problem(plan.organization_problem, "  ")
        for change in plan.organization:
            lines += _change(change)
    lines += ["", summary(plan)]
    return "\n".join(lines)


def _preflight(plan: Plan) -> list[str]:
    """A table: each server's Exchange build and each precondition's result."""
    rows = [server for server in plan.servers if server.checks or server.build]
    if not rows:
        return []
    labels = [check.label for check in next((s.checks for s in rows if s.checks), ())]
    name_width = max(len("SERVER"), *(len(s.server) for s in rows))
    header = f"  {'SERVER':<{name_width}}  {'EXCHANGE':<34}" + "".join(
        f"  {label:<{len(label)}}" for label in labels
    )
    lines = ["", _styled("Preflight", None, True)]
    if len(header) > width():  # too wide for the terminal: one server per paragraph
        for server in rows:
            build = f"{product(server.build)} ({server.build})" if server.build else "-"
            lines.append(f"  {server.server}  {build}")
            for label, check in zip(labels, server.checks, strict=False):
                lines.append(f"    {label}: {_check_mark(check)}")
        return lines
    lines.append(header)
    for server in rows:
        build = f"{product(server.build)} ({server.build})" if server.build else "-"
        cells = ""
        for label, check in zip(labels, server.checks, strict=False):
            cells += f"  {_check_mark(check, len(label))}"
        lines.append(f"  {server.server:<{name_width}}  {build:<34}{cells}")
    return lines


def _check_mark(check: Check, width: int = 0) -> str:
    """ok, FAILED, or - for a precondition that is not for this server (a set member's `servers`)."""
    if check.problem:
        return _styled(f"{'FAILED':<{width}}", "red", True)
    if not check.applies:
        return f"{'-':<{width}}"
    return _styled(f"{'ok':<{width}}", "green")


def summary(plan: Plan) -> str:
    counts = f"{plan.to_change} to change, {plan.unchanged} unchanged, {plan.errors} error{'s' if plan.errors != 1 else ''}"
    servers = f"{len(plan.servers)} server{'s' if len(plan.servers) != 1 else ''}"
    handlers: dict[str, list[str]] = {}
    for server in plan.servers:
        for handler in server.handlers:
            handlers.setdefault(handler.name, []).append(server.server)
    would_run = "; ".join(f"{name} on {', '.join(where)}" for name, where in handlers.items())
    text = f"Plan: {counts} on {servers}." + (f" Handlers to run: {would_run}." if would_run else "")
    color: Any = "red" if plan.errors else ("yellow" if plan.to_change else "green")
    return _styled(text, color, True)


OUTCOME_COLORS = {
    StepStatus.APPLIED: "green",
    StepStatus.ROLLED_BACK: "green",
    StepStatus.NOT_APPLIED: None,
    StepStatus.ROLLBACK_CONFLICT: "red",
    StepStatus.ROLLBACK_FAILED: "red",
    Preview.NOTHING: None,
    Preview.RESTORE: "yellow",
    Preview.CONFLICT: "red",
    Preview.ERROR: "red",
}
SERVER_COLORS = {
    ServerOutcome.APPLIED: "green",
    ServerOutcome.ROLLED_BACK: "yellow",
    ServerOutcome.ROLLBACK_INCOMPLETE: "red",
    ServerOutcome.UNTOUCHED: None,
}
VERDICTS = {
    RunStatus.SUCCEEDED: ("green", "done"),
    RunStatus.NO_CHANGE: ("green", "nothing to change: already in the desired state"),
    RunStatus.ROLLED_BACK: ("yellow", "the run failed and was rolled back: the servers are as they were"),
    RunStatus.PARTIAL: (
        "yellow",
        "the run stopped: the failing batch was rolled back, earlier batches stay applied, "
        "later servers were not touched",
    ),
    RunStatus.ROLLBACK_INCOMPLETE: ("red", "could NOT be fully rolled back: see the steps above"),
    RunStatus.REFUSED: ("red", "nothing was changed"),
}


def outcome_text(outcome: Any) -> str:
    """What an apply or rollback did, step by step, and what is left to do by hand."""
    lines = []
    if outcome.failure is not None:
        lines.append(_styled(f"failed: {outcome.failure.reference}: {outcome.failure.message}", "red", True))
        if outcome.failure.hint:
            lines.append(f"  hint: {outcome.failure.hint}")
    for step in sorted(outcome.steps, key=lambda s: s.seq):
        status = _styled(f"{step.status:<17}", OUTCOME_COLORS.get(step.status), True)
        lines.append(f"  {status} {step.server}: {step.step}")
        lines.append(f"                    {step.target}: {step.message}")
        if step.backup and step.status in (StepStatus.ROLLBACK_FAILED, StepStatus.ROLLBACK_CONFLICT):
            lines.append(f"                    snapshot on the server: {step.backup}")
    lines += [f"  {line}" for line in outcome.handlers]
    if outcome.servers and len(outcome.servers) > 1:
        width = max(len("SERVER"), *(len(name) for name in outcome.servers))
        lines += ["", f"  {'SERVER':<{width}}  RESULT"]
        lines += [
            f"  {name:<{width}}  {_styled(state, SERVER_COLORS.get(state))}"
            for name, state in outcome.servers.items()
        ]
    color, verdict = VERDICTS.get(outcome.status, (None, str(outcome.status)))
    lines.append(_styled(f"{outcome.kind} {outcome.run_id}: {outcome.status}: {verdict}", color, True))
    return "\n".join(lines)


def run_status(run: Any) -> str:
    return f"{run.status}, rolled back by {run.rolled_back_by}" if run.rolled_back_by else run.status


def runs_table(runs: list[Any]) -> str:
    """Runs from this journal and the servers' records (`app.team.RunSummary`): where each is
    known. On a narrow terminal, each run on two lines."""
    if width() < 140:
        lines = []
        for run in runs:
            lines.append(f"{run.id}  {run.kind:<8} {run.status}")
            change = f"  change {run.change_id}" if run.change_id else ""
            back = f"  rolled back by {run.rolled_back_by}" if run.rolled_back_by else ""
            lines.append(f"    {run.playbook}{change}  {run.operator}  ({run.where}){back}")
        return "\n".join(lines)
    lines = [
        f"{'RUN':<23} {'KIND':<8} {'STATUS':<20} {'PLAYBOOK':<22} {'CHANGE':<10} {'OPERATOR':<28} "
        f"{'KNOWN':<8} ROLLED BACK BY"
    ]
    for run in runs:
        lines.append(
            f"{run.id:<23} {run.kind:<8} {run.status:<20} {run.playbook:<22} {run.change_id or '-':<10} "
            f"{run.operator[:28]:<28} {run.where:<8} {run.rolled_back_by or '-'}"
        )
    return "\n".join(lines)


def record_text(records: dict[str, Any], status: str) -> str:
    """A run known from its servers' records (`show RUN -i`): one `model.record.RunRecord` per server."""
    first = next(iter(records.values()))
    lines = [
        _styled(f"run {first.run}", None, True)
        + f"  {first.kind} of {first.playbook.name} ({first.playbook.source})",
        f"  status: {status}  (from the records on {', '.join(records)}; not in this journal)",
        f"  operator: {first.operator} on {first.workstation}"
        + (f"  change: {first.change_id}" if first.change_id else ""),
        f"  started: {first.started}",
    ]
    if first.rolls_back:
        lines.append(f"  rolls back: {first.rolls_back}")
    if any(r.rolled_back_by for r in records.values()):
        lines.append(
            f"  rolled back by: {next(r.rolled_back_by for r in records.values() if r.rolled_back_by)}"
        )
    for server, record in records.items():
        lines.append(f"  {server}: {record.status}, finished {record.finished or '-'}")
        for step in record.steps:
            lines.append(f"    {step.seq}. {step.step}  [{step.status}]")
            lines.append(f"       {step.target}: {step.summary}")
            lines.append(
                f"       before sha256 {step.before_digest[:16]}  after sha256 {step.after_digest[:16]}"
            )
            if step.before:
                lines.append(f"       snapshot: {step.before}")
    return "\n".join(lines)


def run_text(run: Any, steps: list[Any], events: list[Any]) -> str:
    lines = [
        _styled(f"run {run.id}", None, True) + f"  {run.kind} of {run.playbook} ({run.playbook_source})",
        f"  status: {run_status(run)}",
        f"  operator: {run.operator}" + (f"  change: {run.change_id}" if run.change_id else ""),
        f"  hosts: {', '.join(run.hosts.get('given', []))}",
        f"  connection: {_connection_text(run)}",
        f"  started: {run.started}  finished: {run.finished or '-'}",
    ]
    if run.rolls_back:
        lines.append(f"  rolls back: {run.rolls_back}")
    for step in steps:
        lines.append(f"  {step.seq}. {step.server}: {step.step}  [{step.status}]")
        lines.append(f"     {step.target}: {step.summary}")
        if step.before_digest:
            lines.append(
                f"     before sha256 {step.before_digest[:16]}  after sha256 {(step.after_digest or '-')[:16]}"
            )
        if step.backup:
            lines.append(f"     snapshot: {step.backup}")
        if step.error:
            lines.append(_styled(f"     error: {step.error}", "red"))
        if step.diff:
            lines += _diff_lines(step.diff, "     ")
    if events:
        lines.append("  events:")
        lines += [f"    {time} {server or '-'}: {message}" for time, server, message in events]
    return "\n".join(lines)


def _connection_text(run: Any) -> str:
    connection = run.connection or {}
    servers = run.hosts.get("servers", {})
    insecure = [name for name, meta in servers.items() if (meta.get("connection") or {}).get("insecure")]
    if not servers and connection.get("insecure"):
        insecure = ["all servers"]
    text = f"{connection.get('transport', '?')}, {connection.get('auth', '?')}"
    if insecure:
        return (
            text + ", " + _styled(f"certificates NOT verified (--insecure) for {', '.join(insecure)}", "red")
        )
    if connection.get("transport") == "https":
        return text + ", certificates verified"
    return text + ", messages encrypted with the logon session key"
