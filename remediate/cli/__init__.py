"""The command line. The only module that prints, reads options, or picks exit codes."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from remediate import __version__
from remediate.cli.common import Context, error_lines
from remediate.support.errors import ExitCode, RemediateError

STATE_DIR_HELP = (
    "Where remediate keeps its state [env: REMEDIATE_STATE_DIR; default: the user state directory]."
)


def _fail(error: RemediateError, ctx: click.Context) -> NoReturn:
    for line in error_lines(error):
        click.echo(line, err=True)
    context = ctx.find_object(Context)
    if context is not None and context.json_output:  # stdout still holds exactly one document
        from remediate.model.documents import Error, Problem
        from remediate.support.logs import mask_secrets

        problem = Problem(
            reference=error.reference,
            message=mask_secrets(error.message),
            hint=mask_secrets(error.hint) if error.hint else None,
        )
        click.echo(Error(error=problem).model_dump_json(indent=2))
    sys.exit(ExitCode.ERROR)


def _crash(exception: BaseException, state: Path | None) -> NoReturn:
    import platform  # here: only a crash needs them (importing platform alone costs ~15 ms)
    import traceback

    from remediate.support.logs import mask_secrets

    report = mask_secrets(
        f"remediate {__version__} on Python {platform.python_version()} ({platform.platform()})\n"
        f"command: {' '.join(sys.argv)}\n\n" + "".join(traceback.format_exception(exception))
    )
    where = "standard error"
    try:
        directory = state or Path(os.environ.get("TMPDIR", "/tmp"))
        path = directory / f"crash-{dt.datetime.now():%Y%m%d-%H%M%S}.log"
        from remediate.support.statedir import write_private

        write_private(path, report.encode("utf-8"))  # owner-only, like all remediate state
        where = str(path)
    except OSError:
        click.echo(report, err=True)
    click.echo("error: unexpected", err=True)
    click.echo(f"  x {mask_secrets(f'{type(exception).__name__}: {exception}')}", err=True)
    click.echo(f"  hint: this is a bug in remediate; please report it with {where}", err=True)
    sys.exit(ExitCode.UNEXPECTED)


def _reader_gone() -> NoReturn:
    """Standard output's reader closed it (`remediate show RUN | head`): stop quietly, as a
    command killed by SIGPIPE does. Python would also complain when flushing at exit: point
    standard output at /dev/null first."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    sys.exit(ExitCode.BROKEN_PIPE)


def _crash_dir(ctx: click.Context) -> Path | None:
    context = ctx.find_object(Context)
    try:
        return context.state_dir() if context is not None else None
    except OSError:
        return None


class Group(click.Group):
    """Maps exceptions to exit codes in one place."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RemediateError as error:
            _fail(error, ctx)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(ExitCode.INTERRUPTED)
        except BrokenPipeError:
            _reader_gone()
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except Exception as exception:
            _crash(exception, _crash_dir(ctx))


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="remediate", message="%(prog)s %(version)s")
@click.option(
    "--log-format",
    type=click.Choice(["auto", "console", "json"]),
    default="auto",
    show_default=True,
    help="Log lines on standard error: console on a terminal, JSON otherwise (auto).",
)
@click.option(
    "--log-file", type=click.Path(dir_okay=False, path_type=Path), help="Also write JSON logs to this file."
)
@click.option("-v", "--verbose", count=True, help="More log detail (-v info, -vv debug, -vvv library debug).")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), help=STATE_DIR_HELP)
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colours: on a terminal unless NO_COLOR is set (auto), always, or never.",
)
@click.pass_context
def main(
    ctx: click.Context,
    log_format: str,
    log_file: Path | None,
    verbose: int,
    state_dir: Path | None,
    color: str,
) -> None:
    """Apply fixes to Microsoft Exchange servers over WinRM, safely.

    remediate reads the current state, shows exactly what would change, snapshots what it
    will touch, applies the change, restarts what must be restarted, checks the result, and
    can roll everything back.
    """
    from remediate.support import logs

    if color == "always":
        ctx.color = True
    elif color == "never" or os.environ.get("NO_COLOR"):  # https://no-color.org: set and not empty
        ctx.color = False
    logs.clear()  # nothing bound by an earlier invocation in this process
    logs.configure(log_format=log_format, log_file=log_file, verbosity=verbose, color=ctx.color)  # type: ignore[arg-type]
    ctx.obj = Context(state_dir)
    ctx.obj.json_progress = log_format == "json"


def _register() -> None:
    from remediate.cli import diagnose, inventory, plan_apply, playbooks, report, runs, sim

    groups = (
        playbooks.COMMANDS,
        plan_apply.COMMANDS,
        runs.COMMANDS,
        report.COMMANDS,
        inventory.COMMANDS,
        diagnose.COMMANDS,
        (sim.sim,),
    )
    for command in (command for group in groups for command in group):
        main.add_command(command)


_register()


def run() -> None:
    """The `remediate` command: `main`, then a quick exit: the objects left are frozen so that
    the interpreter's final collections skip them (they took 100 ms or more). Garbage
    collection stays on while the command runs: a long rollback must not grow without bound."""
    import gc

    try:
        main()
    finally:
        gc.freeze()
