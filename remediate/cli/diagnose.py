"""`remediate diagnose`: what an Exchange OAuth error means, and which playbook fixes it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from remediate.support.errors import RemediateError


@click.command()
@click.argument("text", required=False)
@click.option(
    "-f",
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, allow_dash=True, path_type=Path),
    help="Read a file: an IIS failed-request log, or saved response headers ('-' for standard input).",
)
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def diagnose(ctx: click.Context, text: str | None, path: Path | None, output: str) -> None:
    """Explain an x-ms-diagnostics value, a WWW-Authenticate header, or an IIS failed-request log.

    \b
    remediate diagnose '2000001;reason="This token profile ...";error_category="invalid_token"'
    remediate diagnose -f fr000123.xml
    """
    from remediate.app.diagnosis import diagnose as explain
    from remediate.cli.common import emit, json_output

    as_json = json_output(ctx, output)

    if path is not None and str(path) != "-":
        source = path.read_text(encoding="utf-8", errors="replace")
    elif path is not None or text is None or text == "-":
        source = sys.stdin.read()
    else:
        source = text
    findings = explain(source)
    if not findings:
        raise RemediateError(
            "nothing-recognized",
            "no Exchange OAuth error found (no x-ms-diagnostics code 2000000-2000008, no Bearer challenge)",
            "give the x-ms-diagnostics header's value, the WWW-Authenticate header, or the failed-request log file",
        )
    if as_json:
        from remediate.model.documents import DiagnoseDocument

        emit(DiagnoseDocument.model_validate({"findings": [finding.to_dict() for finding in findings]}))
        return
    for finding in findings:
        code = f" {finding.code}" if finding.code else ""
        click.echo(click.style(f"{finding.source}{code}: {finding.category}", bold=True))
        click.echo(f"  meaning: {finding.meaning}")
        if finding.reason:
            click.echo(f"  reason:  {finding.reason}")
        for key, value in finding.details.items():
            click.echo(f"  {key}: {value}")
        if finding.cause:
            click.echo(f"  cause:   {finding.cause}")
        if finding.fix:
            others = (
                f" (or {', '.join(finding.fix.alternatives)} for that part alone)"
                if finding.fix.alternatives
                else ""
            )
            click.echo(
                click.style(f"  fix:     remediate apply {finding.fix.playbook} -H <server>", fg="green")
                + others
            )
            click.echo(f"           {finding.fix.why}; see `remediate show {finding.fix.playbook}`")


COMMANDS = (diagnose,)
