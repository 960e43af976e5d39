"""The fleet: the servers a command talks to, how to reach each, and as whom; and their
sessions, opened once and closed in one place (`with fleet:`).

A fleet comes from the command line's options (`--host`, `-i INVENTORY`, `--host sim` for the
embedded simulator) or from what a recorded run or saved plan kept. What is missing (a
username, a password) is asked through an `Asker`: the CLI's prompts, or a test's answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from remediate.app.credentials import Asker, resolve
from remediate.support.errors import RemediateError
from remediate.winrm.reader import ServerReader
from remediate.winrm.session import Session
from remediate.winrm.settings import (
    Auth,
    Connection,
    Credentials,
    Logon,
    Secret,
    Server,
    connection_from_meta,
    connection_meta,
    parse_host,
)

SIM = "sim"
# Servers whose connection starts opening while the playbook is loaded and validated.
CONNECT_AHEAD = 16


@dataclass(frozen=True)
class FleetOptions:
    """What the command line says about the servers: which, as whom, and how to reach them
    (`settings`: Connection's own fields, not declared again here)."""

    hosts: tuple[str, ...] = ()
    inventory: Path | None = None
    limits: tuple[str, ...] = ()
    exchange_port: int | None = None
    spn_hostname: str | None = None
    username: str | None = None
    password_file: Path | None = None
    forks: int = 50  # servers worked on at once
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, options: dict[str, Any]) -> FleetOptions:
        """The command line's options about servers, taken out of `options`."""
        mine = {f.name for f in fields(cls)} - {"settings"}
        connection = {f.name for f in fields(Connection)}
        return cls(
            **{key: options.pop(key) for key in mine if key in options},
            settings={key: options.pop(key) for key in connection if key in options},
        )

    def connection(self) -> Connection:
        return Connection(**self.settings)

    def logon(self) -> Logon:
        return Logon(self.username, self.password_file)

    def given(self) -> list[str]:
        """How the servers were named on the command line, for the journal."""
        if self.inventory is not None:
            return [f"-i {self.inventory}", *(f"--limit {limit}" for limit in self.limits)]
        return list(self.hosts)


@dataclass
class Fleet:
    """The servers of a command, how to reach them (per server, from an inventory), and as whom."""

    servers: list[Server]
    connection: Connection  # for servers without their own
    credentials: Credentials
    simulator: Any = None  # the embedded simulator, when --host sim
    connections: dict[str, Connection] = field(default_factory=dict)
    logons: dict[str, Credentials] = field(default_factory=dict)  # servers with their own (inventory)
    variables: dict[str, str] = field(default_factory=dict)  # the inventory's values for playbooks' variables
    # the values the inventory gives one server (its groups', its own): they win over `variables`
    server_variables: dict[str, dict[str, str]] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)  # the inventory's groups
    inventory_servers: list[str] = field(default_factory=list)  # all of them, --limit or not
    _sessions: dict[str, Session] | None = field(default=None, repr=False)

    def connection_for(self, name: str) -> Connection:
        return self.connections.get(name, self.connection)

    def resolve(self, name: str) -> list[str] | None:
        """The servers a name stands for (a group's members; a server itself), as a playbook
        set's `servers` names them; None if neither the run nor its inventory knows it."""
        lowered = {group.lower(): members for group, members in self.groups.items()}
        if name.lower() in lowered:
            return list(lowered[name.lower()])
        known = [s.name for s in self.servers] + self.inventory_servers
        return next(([server] for server in known if server.lower() == name.lower()), None)

    def credentials_for(self, name: str) -> Credentials:
        return self.logons.get(name, self.credentials)

    @property
    def username(self) -> str | None:
        return self.credentials.username

    def insecure(self) -> list[str]:
        """The servers whose certificates will not be checked (--insecure)."""
        return [s.name for s in self.servers if self.connection_for(s.name).insecure]

    @property
    def sessions(self) -> dict[str, Session]:
        """One session per server, made when first asked for; closed when the fleet is."""
        if self._sessions is None:
            self._sessions = {
                s.name: Session(s, self.connection_for(s.name), self.credentials_for(s.name))
                for s in self.servers
            }
        return self._sessions

    def readers(self) -> dict[str, ServerReader]:
        return {name: ServerReader(session) for name, session in self.sessions.items()}

    def connect_ahead(self, count: int = CONNECT_AHEAD) -> None:
        """Start opening the first servers' connections while other work goes on."""
        for session in list(self.sessions.values())[:count]:
            session.connect_soon()

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
                    "spn_hostname": s.spn_hostname,
                    "connection": connection_meta(self.connection_for(s.name)),
                    **({"username": self.logons[s.name].username} if s.name in self.logons else {}),
                }
                for s in self.servers
            },
        }

    def connection_meta(self) -> dict[str, Any]:
        return connection_meta(self.connection)

    def close(self) -> None:
        """Close every session, then the embedded simulator: the one place this is done."""
        sessions, self._sessions = self._sessions or {}, None
        for session in sessions.values():
            session.close()
        if self.simulator is not None:
            simulator, self.simulator = self.simulator, None
            simulator.stop()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_fleet(options: FleetOptions, state_dir: Path, asker: Asker) -> Fleet:
    """The servers, connections and credentials the options describe."""
    connection = options.connection()
    hosts = options.hosts
    if options.inventory is not None:
        if hosts:
            raise RemediateError(
                "host-invalid", "give either --host or -i, not both", "an inventory names its servers"
            )
        return _inventory_fleet(options, connection, asker)
    if not hosts:
        raise RemediateError(
            "host-missing",
            "no servers: give --host (repeat it) or -i INVENTORY",
            "--host sim tries the simulator",
        )
    if options.limits:
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
        return embedded_simulator(state_dir, connection, asker)
    servers = [parse_host(host) for host in hosts]
    if options.exchange_port:
        servers = [replace(server, exchange_port=options.exchange_port) for server in servers]
    if options.spn_hostname:
        if len(servers) > 1:
            raise RemediateError(
                "host-invalid",
                "--spn-hostname names one server's Kerberos host name, and there are several servers",
                "give each server its spn_hostname in an inventory (-i)",
            )
        servers = [replace(servers[0], spn_hostname=options.spn_hostname)]
    return Fleet(servers, connection, resolve(options.logon(), connection.auth, asker))


def _inventory_fleet(options: FleetOptions, base: Connection, asker: Asker) -> Fleet:
    from remediate.model import inventory

    assert options.inventory is not None
    loaded = inventory.load(options.inventory)
    fill = {"exchange_port": options.exchange_port, "spn_hostname": None}
    entries = [loaded.entry(name, base, fill) for name in loaded.select(list(options.limits))]
    if not entries:
        raise RemediateError("limit-empty", "--limit selects no server", "check the group's members")
    default = loaded.logon(None)
    shared, own = _credentials(
        {
            entry.server.name: (entry.logon, entry.connection.auth)
            for entry in entries
            if entry.logon != default
        },
        (
            Logon(
                options.username or default.username,
                options.password_file or default.password_file,
                None if options.password_file else default.password_env,
            ),
            base.auth,
        ),
        [entry.server.name for entry in entries],
        asker,
    )
    return Fleet(
        [entry.server for entry in entries],
        base,
        shared,
        connections={entry.server.name: entry.connection for entry in entries},
        logons=own,
        variables=loaded.inventory.shared_vars(),
        server_variables={
            entry.server.name: values
            for entry in entries
            if (values := loaded.inventory.server_vars(entry.server.name))
        },
        groups=dict(loaded.inventory.groups),
        inventory_servers=list(loaded.inventory.servers),
    )


def fleet_of_run(
    hosts: dict[str, Any],
    connection: dict[str, Any],
    *,
    username: str | None,
    ca_file: Path | None,
    state_dir: Path,
    asker: Asker,
    password_file: Path | None = None,
) -> Fleet:
    """Reach the servers a recorded run (or saved plan) used, as it reached them (the password
    is asked afresh; `username` and `ca_file` override what was recorded)."""
    default = connection_from_meta(connection, ca_file)
    if hosts.get("given") == [SIM]:
        if ca_file is None:
            default = connection_from_meta({**connection, "ca_file": None})
        return embedded_simulator(state_dir, default, asker)
    servers, connections, own = [], {}, {}
    for name, details in hosts.get("servers", {}).items():
        details = dict(details)
        recorded = details.pop("connection", None)
        own_username = details.pop("username", None)
        servers.append(Server(name=name, **details))
        if recorded:
            connections[name] = connection_from_meta(recorded, ca_file)
        if own_username and not username:
            own[name] = (Logon(own_username, password_file), connections.get(name, default).auth)
    shared_logon = (Logon(username or hosts.get("username"), password_file), default.auth)
    shared, logons = _credentials(own, shared_logon, [s.name for s in servers], asker)
    return Fleet(servers, default, shared, connections=connections, logons=logons)


def _credentials(
    own: dict[str, tuple[Logon, Auth]], shared: tuple[Logon, Auth], names: list[str], asker: Asker
) -> tuple[Credentials, dict[str, Credentials]]:
    """The fleet's credentials and the servers' own: each distinct logon resolved (and asked
    for) once, and the shared one only when a server uses it."""
    resolved: dict[tuple[Logon, Auth], Credentials] = {}

    def once(logon: Logon, auth: Auth) -> Credentials:
        if (logon, auth) not in resolved:
            resolved[(logon, auth)] = resolve(logon, auth, asker)
        return resolved[(logon, auth)]

    logons = {name: once(*own[name]) for name in names if name in own}
    if logons and len(logons) == len(names):
        return next(iter(logons.values())), logons  # every server has its own: the shared one is not needed
    return once(*shared), logons


def embedded_simulator(state_dir: Path, connection: Connection, asker: Asker) -> Fleet:
    """`--host sim`: every server of the embedded simulated organization, logged on to with its
    account (with --auth kerberos: with the caller's ticket, which needs a KDC that knows the
    simulated servers, as the tests start)."""
    from remediate.sim.embedded import start_embedded

    simulator = start_embedded(state_dir)
    servers = [
        Server(
            name=name,
            address=endpoint.host,
            port=endpoint.port,
            exchange_port=endpoint.port,
            spn_hostname=endpoint.fqdn or None,
        )
        for name, endpoint in simulator.servers.items()
    ]
    if connection.ca_file is None:
        connection = replace(connection, ca_file=simulator.ca_file)
    credentials = Credentials(simulator.username, Secret(simulator.password))
    if connection.auth == "kerberos":
        try:
            credentials = resolve(Logon(), "kerberos", asker)
        except BaseException:
            simulator.stop()
            raise
    return Fleet(servers, connection, credentials, simulator)
