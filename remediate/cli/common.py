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

    def state_dir(self) -> Path:
        from remediate.support.statedir import state_dir

        return state_dir(self._state_dir)


def error_lines(error: RemediateError) -> list[str]:
    from remediate.support.logs import mask_secrets

    lines = [f"error: {error.reference}", f"  x {mask_secrets(error.message)}"]
    if error.hint:
        lines.append(f"  hint: {mask_secrets(error.hint)}")
    return lines


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
            "--limit", "limits", multiple=True, help="With -i: only these servers or groups (a,b or repeat)."
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
            type=click.Choice(["negotiate", "ntlm", "kerberos", "basic"]),
            default="negotiate",
            show_default=True,
            help="basic is allowed over https only.",
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
            help="DOMAIN\\user or user@domain. The password comes from REMEDIATE_PASSWORD or a prompt.",
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


def _password() -> str:
    from remediate.support.logs import register_secret

    password = os.environ.get(PASSWORD_ENV)
    if password is None:
        if not sys.stdin.isatty():
            raise RemediateError(
                "password-missing",
                f"no password: {PASSWORD_ENV} is not set and there is no terminal to ask on",
                f"set {PASSWORD_ENV} in the environment (never on the command line)",
            )
        password = click.prompt("Password", hide_input=True, err=True)
    register_secret(password)
    return password


def _credentials(username: str | None) -> Any:
    """The username given (or asked for) and the password from the environment or a prompt."""
    from remediate.winrm.session import Credentials, Secret

    if not username:
        if not sys.stdin.isatty():
            raise RemediateError(
                "username-missing",
                "no username given",
                f"use --username or set {USERNAME_ENV} (DOMAIN\\user or user@domain)",
            )
        username = click.prompt("Username (DOMAIN\\user)", err=True)
    return Credentials(username, Secret(_password()))


def given_hosts(options: dict[str, Any]) -> list[str]:
    """How the servers were named on the command line, for the journal."""
    if options.get("inventory"):
        return [f"-i {options['inventory']}", *(f"--limit {limit}" for limit in options.get("limits") or ())]
    return list(options["hosts"])


def targets(ctx: click.Context, options: dict[str, Any]) -> Any:
    """The servers, connections and credentials the options describe (warning if insecure)."""
    return warn_if_insecure(_targets(ctx, options))


def warn_if_insecure(found: Any) -> Any:
    """Say loudly, once per command, which servers' certificates will not be checked."""
    insecure = [s.name for s in found.servers if found.connection_for(s.name).insecure]
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
    return found


def _targets(ctx: click.Context, options: dict[str, Any]) -> Any:
    from remediate.app.fleet import SIM, Targets, embedded_simulator_targets, parse_host
    from remediate.winrm.session import Connection

    connection = Connection(
        transport=options["transport"],
        auth=options["auth"],
        ca_file=options["ca_file"],
        exchange=options["exchange"],
        operation_timeout=options["timeout"],
        connect_timeout=options["connect_timeout"],
        restart_timeout=options["restart_timeout"],
        insecure=options["insecure"],
    )
    hosts: tuple[str, ...] = options["hosts"]
    if options.get("inventory"):
        if hosts:
            raise RemediateError(
                "host-invalid", "give either --host or -i, not both", "an inventory names its servers"
            )
        return _inventory_targets(options, connection)
    if not hosts:
        raise RemediateError(
            "host-missing",
            "no servers: give --host (repeat it) or -i INVENTORY",
            "--host sim tries the simulator",
        )
    if options.get("limits"):
        raise RemediateError(
            "host-invalid", "--limit selects from an inventory (-i)", "drop --limit, or use -i"
        )
    if SIM in hosts:
        if len(hosts) > 1:
            raise RemediateError(
                "host-invalid",
                "--host sim cannot be combined with other hosts",
                "use --host sim alone: it is every server of the simulated organization",
            )
        return embedded_simulator_targets(ctx.find_object(Context).state_dir(), connection)  # type: ignore[union-attr]
    servers = [parse_host(host) for host in hosts]
    if options["exchange_port"]:
        from dataclasses import replace

        servers = [replace(server, exchange_port=options["exchange_port"]) for server in servers]
    return Targets(servers, connection, _credentials(options["username"]))


def _inventory_targets(options: dict[str, Any], base: Any) -> Any:
    from remediate.model import inventory
    from remediate.app.fleet import Targets

    loaded = inventory.load(options["inventory"])
    entries = [loaded.entry(name, base) for name in loaded.select(list(options.get("limits") or ()))]
    if not entries:
        raise RemediateError("limit-empty", "--limit selects no server", "check the group's members")
    username = options["username"] or loaded.username
    return Targets(
        [entry.server for entry in entries],
        base,
        _credentials(username),
        connections={entry.server.name: entry.connection for entry in entries},
    )


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
    from remediate.engine.journal import Journal

    return Journal.open(ctx.find_object(Context).state_dir())  # type: ignore[union-attr]


def targets_for_run(ctx: click.Context, run: Any, username: str | None, ca_file: Path | None) -> Any:
    """Reach the servers a recorded run (or saved plan) used, as it reached them (credentials asked afresh)."""
    from remediate.app.fleet import SIM, Targets, connection_from_meta, embedded_simulator_targets
    from remediate.winrm.session import Server

    default = connection_from_meta(run.connection, ca_file)
    if run.hosts.get("given") == [SIM]:
        if ca_file is None:
            default = connection_from_meta({**run.connection, "ca_file": None})
        return warn_if_insecure(embedded_simulator_targets(ctx.find_object(Context).state_dir(), default))  # type: ignore[union-attr]
    servers, connections = [], {}
    for name, details in run.hosts.get("servers", {}).items():
        details = dict(details)
        recorded = details.pop("connection", None)
        servers.append(Server(name=name, **details))
        if recorded:
            connections[name] = connection_from_meta(recorded, ca_file)
    return warn_if_insecure(
        Targets(
            servers, default, _credentials(username or run.hosts.get("username")), connections=connections
        )
    )


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
