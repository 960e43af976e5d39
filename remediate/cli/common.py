"""What the CLI's commands share: context, error rendering, connection options."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from remediate.support.errors import RemediateError

USERNAME_ENV = "REMEDIATE_USERNAME"
PASSWORD_ENV = "REMEDIATE_PASSWORD"


class Context:
    """Options every subcommand may need; passed explicitly, never read globally."""

    def __init__(self, state_dir: Path | None) -> None:
        self._state_dir = state_dir
        self.json_output = False  # the command prints a JSON document: an error is one too
        self.json_progress = False  # --log-format json: progress lines are JSON events too

    def state_dir(self) -> Path:
        from remediate.support.statedir import state_dir

        return state_dir(self._state_dir)


def json_output(ctx: click.Context, output: str) -> bool:
    """Whether the command prints a JSON document; if so, a failure is printed as one too."""
    if output == "json":
        ctx.find_object(Context).json_output = True  # type: ignore[union-attr]
    return output == "json"


def emit(document: Any) -> None:
    """Print one JSON document (a `model.documents` model) on standard output."""
    click.echo(document.model_dump_json(indent=2))


def error_lines(error: RemediateError) -> list[str]:
    from remediate.support.logs import mask_secrets

    lines = [f"error: {error.reference}", f"  x {mask_secrets(error.message)}"]
    if error.hint:
        lines.append(f"  hint: {mask_secrets(error.hint)}")
    return lines


def _complete_limits(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    from remediate.cli.completion import limits

    return limits(ctx, param, incomplete)


def connection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options that say which servers to reach and how."""
    options = [
        click.option(
            "-H",
            "--host",
            "hosts",
            multiple=True,
            help="A server: host[:port][/path]. Repeat for more. 'sim': the embedded simulated organization.",
        ),
        click.option(
            "-i",
            "--inventory",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="An inventory file: servers, groups, and how to reach them (instead of --host).",
        ),
        click.option(
            "--forks",
            type=click.IntRange(min=1, max=500),
            default=50,
            show_default=True,
            help="Servers worked on at once: reads, and the servers of a batch (their threads mostly wait).",
        ),
        click.option(
            "--limit",
            "limits",
            multiple=True,
            help="With -i: only these servers or groups (a,b or repeat).",
            shell_complete=_complete_limits,
        ),
        click.option(
            "--transport",
            type=click.Choice(["https", "http"]),
            default="https",
            show_default=True,
            help="https verifies the server certificate; http is encrypted with the logon session key.",
        ),
        click.option(
            "--auth",
            type=click.Choice(["negotiate", "ntlm", "kerberos", "basic", "credssp"]),
            default="negotiate",
            show_default=True,
            help="kerberos (and negotiate, which prefers it) log on from your ticket (kinit) when no password "
            "is given. credssp hands your password to the servers (for the snap-in's second hop): https only. "
            "basic: https only.",
        ),
        click.option(
            "--spn-service",
            metavar="CLASS",
            help="Kerberos: the service class of the servers' SPN [default: host; HTTP for --exchange remote].",
        ),
        click.option(
            "--spn-hostname",
            metavar="NAME",
            help="Kerberos: the server's name in Active Directory, when --host is an address or an alias "
            "(one server; per server: spn_hostname in an inventory).",
        ),
        click.option(
            "--kerberos-delegate",
            "delegate",
            is_flag=True,
            help="Kerberos: delegate your ticket to the servers, for the snap-in's second hop to Active "
            "Directory (their accounts must be trusted for delegation).",
        ),
        click.option(
            "--ca-file",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="CA certificate(s) that issued the servers' certificates.",
        ),
        click.option(
            "--exchange",
            "exchange",
            type=click.Choice(["snapin", "remote"]),
            default="snapin",
            show_default=True,
            help="snapin: the Exchange snap-in in the server endpoint's session (no RBAC filtering); "
            "remote: the /PowerShell Exchange endpoint (RBAC applies).",
        ),
        click.option(
            "--exchange-port",
            type=click.IntRange(1, 65535),
            help="Port of the /PowerShell endpoint with --exchange remote [default: 443, or 80 with http].",
        ),
        click.option(
            "-u",
            "--username",
            envvar=USERNAME_ENV,
            show_envvar=True,
            help="DOMAIN\\user or user@domain. The password comes from --password-file, REMEDIATE_PASSWORD or "
            "a prompt; with Kerberos and no password, from your ticket.",
        ),
        click.option(
            "--password-file",
            type=click.Path(dir_okay=False, path_type=Path),
            help="A file holding the password on one line; refused unless only you can read it (chmod 600).",
        ),
        click.option(
            "--insecure",
            is_flag=True,
            help="Do not verify the servers' certificates (https). Anyone on the path can then "
            "impersonate a server. Recorded in the journal; prefer --ca-file.",
        ),
        click.option(
            "--timeout",
            type=click.IntRange(1, 3600),
            default=60,
            show_default=True,
            help="Seconds one remote command (or one request) may take before it is stopped.",
        ),
        click.option(
            "--connect-timeout",
            type=click.IntRange(1, 600),
            default=15,
            show_default=True,
            help="Seconds to wait for a connection to a server.",
        ),
        click.option(
            "--restart-timeout",
            type=click.IntRange(1, 3600),
            default=300,
            show_default=True,
            help="Seconds one service or app pool restart may take before it is stopped.",
        ),
    ]
    return functools.reduce(lambda wrapped, option: option(wrapped), reversed(options), command)


class Prompts:
    """The CLI's `Asker`: the password from REMEDIATE_PASSWORD or a prompt, the username from
    a prompt; never without a terminal to ask on."""

    def username(self) -> str:
        if not sys.stdin.isatty():
            raise RemediateError(
                "username-missing",
                "no username given",
                f"use --username or set {USERNAME_ENV} (DOMAIN\\user or user@domain)",
            )
        return str(click.prompt("Username (DOMAIN\\user)", err=True))

    def given_password(self) -> str | None:
        return os.environ.get(PASSWORD_ENV) or None

    def password(self) -> str:
        if not sys.stdin.isatty():
            raise RemediateError(
                "password-missing",
                f"no password: {PASSWORD_ENV} is not set and there is no terminal to ask on",
                f"set {PASSWORD_ENV} in the environment (never on the command line), use --password-file, "
                "or, with Kerberos, get a ticket first (kinit)",
            )
        return str(click.prompt("Password", hide_input=True, err=True))


def fleet_options(options: dict[str, Any]) -> Any:
    """The connection options, typed (they are removed from `options`)."""
    from remediate.app.fleet import FleetOptions

    return FleetOptions.of(options)


def state_dir(ctx: click.Context) -> Path:
    return ctx.find_object(Context).state_dir()  # type: ignore[union-attr]


def fleet_opener(ctx: click.Context, options: Any) -> Callable[[], Any]:
    """Opens the fleet the options describe (warning loudly if certificates go unchecked)."""
    from remediate.app.fleet import open_fleet

    return lambda: warn_if_insecure(open_fleet(options, state_dir(ctx), Prompts()))


def run_fleet_opener(
    ctx: click.Context,
    hosts: dict[str, Any],
    connection: dict[str, Any],
    username: str | None,
    ca_file: Path | None,
    password_file: Path | None = None,
) -> Callable[[], Any]:
    """Opens the fleet a recorded run or saved plan used, as it reached it (the password asked afresh)."""
    from remediate.app.fleet import fleet_of_run

    return lambda: warn_if_insecure(
        fleet_of_run(
            hosts,
            connection,
            username=username,
            ca_file=ca_file,
            state_dir=state_dir(ctx),
            asker=Prompts(),
            password_file=password_file,
        )
    )


def warn_if_insecure(fleet: Any) -> Any:
    """Say loudly, once per command, which servers' certificates will not be checked."""
    insecure = fleet.insecure()
    if insecure:
        click.echo(
            click.style(
                f"WARNING: --insecure: the certificates of {', '.join(insecure)} are NOT verified; anyone "
                "on the network path can impersonate them and take the credentials. The run records it.",
                fg="red",
                bold=True,
            ),
            err=True,
        )
    return fleet


def confirm(question: str, yes: bool) -> None:
    """Ask on a terminal; without one, --yes is required."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise RemediateError(
            "confirmation-required", f"{question} (no terminal to ask on)", "add --yes to confirm"
        )
    if not click.confirm(question, default=False, err=True):
        raise RemediateError("not-confirmed", "nothing was changed", None)


def journal_for(ctx: click.Context) -> Any:
    from remediate.app.history import open_journal

    return open_journal(state_dir(ctx))


BREAK_LOCK = click.option(
    "--break-lock",
    "break_lock",
    is_flag=False,
    flag_value="dead",
    default=None,
    metavar="[RUN]",
    help="Break server locks whose run is provably dead (it ended, or its process on this machine is gone); "
    "with RUN, that run's lock, for a run remediate cannot see (another workstation). Never a live run's.",
)


def confirm_break_lock(break_lock: str | None, yes: bool) -> None:
    if break_lock is not None and break_lock != "dead":
        confirm(
            f"Break the lock of run {break_lock} wherever it holds one? Only if you are sure it is not running.",
            yes,
        )
