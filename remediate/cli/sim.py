"""`remediate sim`: serve the simulated organization, inject faults, read its audit trail."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from remediate.cli.common import Context
from remediate.support.errors import RemediateError

# -- remediate sim ---------------------------------------------------------------------------------


@click.group()
def sim() -> None:
    """The simulated Exchange organization (real WinRM, for trying and testing remediate)."""


def _sim_state(ctx: click.Context, state: Path | None) -> Path:
    return state if state is not None else ctx.find_object(Context).state_dir() / "sim"  # type: ignore[union-attr]


STATE_OPTION = click.option(
    "--state",
    type=click.Path(file_okay=False, path_type=Path),
    help="The simulator's state directory [default: <state-dir>/sim, the one --host sim uses].",
)


@sim.command()
@STATE_OPTION
@click.option(
    "--servers", type=click.IntRange(1, 200), help="Number of servers (ex01, ex02, ...) [default: 1]."
)
@click.option(
    "--scenario",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Seed from this scenario file.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=5986,
    show_default=True,
    help="Port of ex01; ex02 uses the next one, and so on (0: any free ports).",
)
@click.option("--bind", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--restart-seconds", type=click.FloatRange(min=0), help="How long a service restart takes.")
@click.option(
    "--latency",
    type=click.Choice(["none", "realistic"]),
    help="How long the servers take (network, runspaces, snap-in, cmdlets, IIS restart), spent waiting.",
)
@click.option("--reset", is_flag=True, help="Throw the existing state away and seed again.")
@click.pass_context
def serve(
    ctx: click.Context,
    state: Path | None,
    servers: int | None,
    scenario: Path | None,
    port: int,
    bind: str,
    restart_seconds: float | None,
    latency: str | None,
    reset: bool,
) -> None:
    """Serve the simulated organization in the foreground until interrupted.

    Each server listens on its own port for HTTPS and HTTP (message encryption required):
    /wsman is the server endpoint (Microsoft.PowerShell) and /PowerShell the Exchange
    endpoint (Microsoft.Exchange).
    """
    from remediate.sim import Simulator

    directory = _sim_state(ctx, state)
    simulator = Simulator(
        directory,
        servers=servers,
        scenario=scenario,
        host=bind,
        port=port,
        restart_seconds=restart_seconds,
        reset=reset,
        latency=latency,
    )
    simulator.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        _print_connection(simulator)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    finally:
        simulator.stop()
    click.echo("simulator stopped")


def _print_connection(simulator: Any) -> None:
    first = next(iter(simulator.servers.values()))
    click.echo(f"remediate simulator: {len(simulator.servers)} server(s), state in {simulator.state_dir}")
    for endpoint in simulator.servers.values():
        click.echo(f"  {endpoint.name:<6} {endpoint.url('https')}  {endpoint.url('https', 'PowerShell')}")
    click.echo("  each port also answers plain HTTP (NTLM/Negotiate with message encryption)")
    click.echo(f"  CA certificate: {simulator.ca_file}")
    click.echo(f"  account: {simulator.username}  (password in {simulator.state_dir / 'password'})")
    click.echo("")
    click.echo("Connect with pypsrp:")
    click.echo(
        f'  WSMan("{first.host}", port={first.port}, username=r"{simulator.username}", '
        f'password=open("{simulator.state_dir / "password"}").read(), cert_validation="{simulator.ca_file}")'
    )
    click.echo("Press Ctrl-C to stop.", nl=True)
    sys.stdout.flush()


@sim.group()
def fault() -> None:
    """Inject faults into a simulator (running or not) through its state directory."""


@fault.command("add")
@STATE_OPTION
@click.argument(
    "kind",
    type=click.Choice(
        [
            "cmdlet-error",
            "cmdlet-delay",
            "drop-connection",
            "deny-access",
            "restart",
            "app-pool",
            "unreachable",
        ]
    ),
)
@click.option("--server", help="Only this server [default: every server].")
@click.option(
    "--cmdlet", help="cmdlet-error, cmdlet-delay, drop-connection: the cmdlet whose call triggers it."
)
@click.option(
    "--seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=30,
    show_default=True,
    help="cmdlet-delay: how long the cmdlet is slow.",
)
@click.option(
    "--nth", type=click.IntRange(min=1), default=1, show_default=True, help="Fire on the nth matching event."
)
@click.option(
    "--times", type=click.IntRange(min=0), default=1, show_default=True, help="How many times (0: always)."
)
@click.option(
    "--error",
    "error_preset",
    type=click.Choice(["generic", "access-denied", "io", "non-terminating"]),
    default="generic",
    show_default=True,
    help="cmdlet-error: which error.",
)
@click.option(
    "--when",
    type=click.Choice(["before", "after", "midway"]),
    default="before",
    show_default=True,
    help="drop-connection with --cmdlet, cmdlet-delay, cmdlet-error: before the cmdlet runs, after, or "
    "midway (Move-Item -Force: the target deleted, not yet renamed).",
)
@click.option(
    "--argument",
    help="cmdlet-error, cmdlet-delay, drop-connection: only calls with an argument containing this text "
    "(web.config: the target's writes, not those of remediate's records).",
)
@click.option("--path", help="deny-access: the path (and everything under it).")
@click.option("--operations", type=click.Choice(["read", "write", "all"]), default="all", show_default=True)
@click.option("--mode", help="restart: fail or hang; unreachable: refuse or blackhole.")
@click.option("--service", default="W3SVC", show_default=True, help="restart: the service.")
@click.option("--pool", help="app-pool: the app pool that does not come back.")
@click.pass_context
def fault_add(ctx: click.Context, state: Path | None, kind: str, **options: Any) -> None:
    """Add a fault of KIND; prints it as JSON."""
    from pydantic import ValidationError

    from remediate.sim.faults import FAULT, FaultBook

    fields: dict[str, Any] = {"kind": kind, "server": options["server"]}
    if kind == "cmdlet-error":
        fields |= {
            "cmdlet": options["cmdlet"],
            "argument": options["argument"],
            "nth": options["nth"],
            "times": options["times"],
            "error": options["error_preset"],
            "when": options["when"],
        }
    elif kind == "cmdlet-delay":
        fields |= {
            "cmdlet": options["cmdlet"],
            "argument": options["argument"],
            "nth": options["nth"],
            "times": options["times"],
            "seconds": options["seconds"],
            "when": options["when"],
        }
    elif kind == "drop-connection":
        fields |= {
            "cmdlet": options["cmdlet"],
            "argument": options["argument"],
            "nth": options["nth"],
            "times": options["times"],
            "when": options["when"],
        }
    elif kind == "deny-access":
        fields |= {"path": options["path"], "operations": options["operations"]}
    elif kind == "restart":
        fields |= {
            "mode": options["mode"] or "fail",
            "service": options["service"],
            "nth": options["nth"],
            "times": options["times"],
        }
    elif kind == "app-pool":
        fields |= {"pool": options["pool"], "nth": options["nth"], "times": options["times"]}
    else:
        fields |= {"mode": options["mode"] or "refuse"}
    try:
        new = FAULT.validate_python({k: v for k, v in fields.items() if v is not None})
    except ValidationError as error:
        first = error.errors()[0]
        raise RemediateError(
            "sim-fault-invalid",
            f"{kind}: {'.'.join(str(p) for p in first['loc'][1:]) or 'fault'}: {first['msg']}",
            "see `remediate sim fault add --help`",
        ) from None
    book = FaultBook(_sim_state(ctx, state) / "faults.json")
    click.echo(book.add(new).model_dump_json())


@fault.command("list")
@STATE_OPTION
@click.pass_context
def fault_list(ctx: click.Context, state: Path | None) -> None:
    """List the active faults as JSON lines."""
    from remediate.sim.faults import FaultBook

    for item in FaultBook(_sim_state(ctx, state) / "faults.json").active():
        click.echo(item.model_dump_json())


@fault.command("clear")
@STATE_OPTION
@click.argument("fault_id", type=int, required=False)
@click.pass_context
def fault_clear(ctx: click.Context, state: Path | None, fault_id: int | None) -> None:
    """Remove one fault (by id) or all of them."""
    from remediate.sim.faults import FaultBook

    FaultBook(_sim_state(ctx, state) / "faults.json").clear(fault_id)


@sim.command()
@STATE_OPTION
@click.option("--server", help="Only calls to this server.")
@click.pass_context
def audit(ctx: click.Context, state: Path | None, server: str | None) -> None:
    """Print every cmdlet call the simulator received, as JSON lines."""
    from dataclasses import asdict

    from remediate.sim.audit import AuditTrail

    for record in AuditTrail.read(_sim_state(ctx, state) / "audit.jsonl"):
        if server is None or record.server.lower() == server.lower():
            click.echo(json.dumps(asdict(record), sort_keys=True))
