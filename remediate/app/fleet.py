"""Which servers a run talks to: `--host` values, and the embedded simulator (`--host sim`)."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from remediate.support.errors import RemediateError
from remediate.winrm.session import Connection, Credentials, Secret, Server, Session

SIM = "sim"
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*$"
)


def _invalid(text: str, why: str) -> RemediateError:
    return RemediateError(
        "host-invalid",
        f"--host {text!r}: {why}",
        "give host[:port][/path], e.g. ex01.contoso.lab:5986 or 10.0.0.5",
    )


def parse_host(text: str) -> Server:
    value = text.strip()
    if "://" in value:
        raise _invalid(text, "a URL is not a host (the scheme comes from --transport)")
    address, _, path = value.partition("/")
    port_text = None
    if address.startswith("["):
        address, _, rest = address[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise _invalid(text, "expected :port after the IPv6 address")
            port_text = rest[1:]
    elif address.count(":") == 1:
        address, port_text = address.split(":")
    try:
        ipaddress.ip_address(address)
    except ValueError:
        if not _HOSTNAME.match(address):
            raise _invalid(text, "not a host name or IP address") from None
    port = None
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise _invalid(text, f"{port_text!r} is not a port")
        port = int(port_text)
    return Server(name=value.split("/")[0], address=address, port=port, path=path or "wsman")


@dataclass
class Targets:
    """The servers of a run, how to reach them (per server, from an inventory), and as whom."""

    servers: list[Server]
    connection: Connection  # for servers without their own
    credentials: Credentials
    simulator: Any = None  # the embedded simulator, when --host sim
    connections: dict[str, Connection] = field(default_factory=dict)

    def connection_for(self, name: str) -> Connection:
        return self.connections.get(name, self.connection)

    def sessions(self) -> dict[str, Session]:
        return {s.name: Session(s, self.connection_for(s.name), self.credentials) for s in self.servers}

    def meta(self, given: list[str]) -> dict[str, Any]:
        """What the journal and saved plans keep to reach these servers again (no credentials)."""
        return {
            "given": given,
            "username": self.credentials.username,  # who connected (asked again for the password)
            "servers": {
                s.name: {
                    "address": s.address,
                    "port": s.port,
                    "path": s.path,
                    "exchange_port": s.exchange_port,
                    "exchange_path": s.exchange_path,
                    "connection": connection_meta(self.connection_for(s.name)),
                }
                for s in self.servers
            },
        }

    def close(self) -> None:
        if self.simulator is not None:
            self.simulator.stop()


def connection_meta(connection: Connection) -> dict[str, Any]:
    return {
        "transport": connection.transport,
        "auth": connection.auth,
        "exchange": connection.exchange,
        "ca_file": str(connection.ca_file) if connection.ca_file else None,
        "insecure": connection.insecure,
        "operation_timeout": connection.operation_timeout,
        "connect_timeout": connection.connect_timeout,
        "restart_timeout": connection.restart_timeout,
    }


def connection_from_meta(meta: dict[str, Any], ca_file: Path | None = None) -> Connection:
    recorded = meta.get("ca_file")
    return Connection(
        transport=meta["transport"],
        auth=meta["auth"],
        exchange=meta["exchange"],
        ca_file=ca_file or (Path(recorded) if recorded else None),
        operation_timeout=meta.get("operation_timeout", 60),
        connect_timeout=meta.get("connect_timeout", 15),
        restart_timeout=meta.get("restart_timeout", 300),
        insecure=bool(meta.get("insecure", False)),
    )


def embedded_simulator_targets(state_dir: Path, connection: Connection) -> Targets:
    """`--host sim`: every server of the embedded simulated organization."""
    from remediate.sim.embedded import start_embedded

    simulator = start_embedded(state_dir)
    servers = [
        Server(name=name, address=endpoint.host, port=endpoint.port, exchange_port=endpoint.port)
        for name, endpoint in simulator.servers.items()
    ]
    if connection.ca_file is None:
        connection = replace(connection, ca_file=simulator.ca_file)
    credentials = Credentials(simulator.username, Secret(simulator.password))
    return Targets(servers, connection, credentials, simulator)
