"""A simulated Exchange organization served over real WS-Management, one port per server.

    with Simulator(tmp_path, servers=2, port=0) as sim:
        wsman = WSMan("127.0.0.1", port=sim.servers["ex01"].port, username=sim.username,
                      password=sim.password, cert_validation=str(sim.ca_file))

The state directory holds the organization (seeded once from a scenario), the TLS material,
the accounts, the active faults, the audit trail and the request counters. Only one
simulator may use a state directory at a time.
"""

from __future__ import annotations

import fcntl
import json
import secrets
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from remediate.sim import auth
from remediate.sim.audit import AuditRecord, AuditTrail, Counters
from remediate.sim.faults import Fault, FaultBook
from remediate.sim.http import ServerContext, WinRMServer, serve
from remediate.sim.latency import Latency
from remediate.sim.latency import resolve as resolve_latency
from remediate.sim.machine import Machine
from remediate.sim.scenario import Authentication, Scenario, load_scenario
from remediate.sim.seed import seed
from remediate.sim.store import OrgState, ServerState, Store
from remediate.sim.tls import TlsFiles, ensure_certificates
from remediate.sim.wsman import WSManService
from remediate.support.errors import RemediateError
from remediate.support.statedir import private_dir, write_private

CONNECTION_FILE = "sim.json"


@dataclass(frozen=True)
class ServerEndpoint:
    name: str
    host: str
    port: int
    fqdn: str = ""  # the server's name in the simulated domain (its Kerberos SPNs use it)

    def url(self, scheme: str = "https", path: str = "wsman") -> str:
        return f"{scheme}://{self.host}:{self.port}/{path}"


class Simulator:
    def __init__(
        self,
        state_dir: Path,
        *,
        servers: int | None = None,
        scenario: Scenario | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        restart_seconds: float | None = None,
        reset: bool = False,
        authentication: Authentication | None = None,
        latency: Latency | str | None = None,
    ) -> None:
        self.state_dir = Path(state_dir).expanduser().absolute()
        self._server_count = servers
        self._scenario = scenario
        self._host = host
        self._port = port
        self._restart_seconds = restart_seconds
        self._authentication = authentication  # overrides the scenario's, like restart_seconds
        self._latency = None if latency is None else resolve_latency(latency)  # and this
        self._reset = reset
        self._lock_handle: IO[str] | None = None
        self._listeners: dict[str, WinRMServer] = {}
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self.servers: dict[str, ServerEndpoint] = {}
        self.org: OrgState | None = None
        self._states: dict[str, ServerState] = {}
        self._credentials: auth.Credentials | None = None
        self.tls: TlsFiles | None = None
        self.audit = AuditTrail(self.state_dir / "audit.jsonl")
        self.counters = Counters(self.state_dir / "counters.json")
        self.faults = FaultBook(self.state_dir / "faults.json")

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> Simulator:
        private_dir(self.state_dir)
        self._take_lock()
        try:
            self._load_or_seed()
            self._listen()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self._stopping.set()
        for listener in self._listeners.values():
            listener.context.machine.shutdown.set()
            listener.context.service.close_all()
            listener.shutdown()
            listener.close_connections()
            listener.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._listeners.clear()
        self._threads.clear()
        if self.org is not None:
            self.counters.flush()
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None

    def _take_lock(self) -> None:
        handle = open(self.state_dir / "sim.lock", "w")  # noqa: SIM115 - held open while serving
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise RemediateError(
                "sim-state-in-use",
                f"another simulator is already using {self.state_dir}",
                "stop it, or give this one its own --state directory",
            ) from None
        self._lock_handle = handle

    # -- state --------------------------------------------------------------------------------

    def _scenario_value(self) -> Scenario:
        if isinstance(self._scenario, Scenario):
            scenario = self._scenario
        elif self._scenario is not None:
            scenario = load_scenario(Path(self._scenario))
        else:
            scenario = Scenario()
        if self._server_count is not None:
            scenario = scenario.with_server_count(self._server_count)
        return scenario

    def _load_or_seed(self) -> None:
        store = Store(self.state_dir)
        if self._reset and store.seeded:
            self._wipe(store)
        if store.seeded:
            self.org, self._states = store.load()
            self._check_matches()
            self._credentials = self._load_credentials()
        else:
            scenario = self._scenario_value()
            self._credentials = self._new_credentials(scenario)
            org, servers, files = seed(scenario)
            store.save_new(org, servers, files)
            self.org, self._states = store.load()
            for fault in scenario.faults:
                self.faults.add(fault)
            with self.org.lock:
                self.org.data["authentication"] = scenario.authentication.model_dump()
                self.org.save()
        if self._authentication is not None:
            with self.org.lock:
                self.org.data["authentication"] = self._authentication.model_dump()
                self.org.save()
        if self._restart_seconds is not None:
            with self.org.lock:
                self.org.data["restart_seconds"] = self._restart_seconds
                self.org.save()
        if self._latency is not None:
            with self.org.lock:
                self.org.data["latency"] = self._latency.model_dump()
                self.org.save()
        auth.register(self._credentials)

    def _check_matches(self) -> None:
        assert self.org is not None
        have = len(self.org.server_names)
        if self._server_count is not None and self._server_count != have:
            raise RemediateError(
                "sim-state-mismatch",
                f"{self.state_dir} holds an organization of {have} server(s), not {self._server_count}",
                "use --reset to start over from the scenario, or another --state directory",
            )
        if self._scenario is not None:
            digest = self._scenario_value().digest()
            if digest != self.org.data.get("scenario_digest"):
                raise RemediateError(
                    "sim-state-mismatch",
                    f"{self.state_dir} was seeded from a different scenario",
                    "use --reset to start over from this scenario, or another --state directory",
                )

    def _wipe(self, store: Store) -> None:
        import shutil

        for path in (store.org_path, self.state_dir / "credentials.json", self.state_dir / "faults.json"):
            path.unlink(missing_ok=True)
        for directory in (store.server_dir, store.blob_root):
            shutil.rmtree(directory, ignore_errors=True)
        self.faults = FaultBook(self.state_dir / "faults.json")

    def _new_credentials(self, scenario: Scenario) -> auth.Credentials:
        accounts = tuple(
            auth.Account(c.username, c.password or secrets.token_urlsafe(18)) for c in scenario.credentials
        )
        org = scenario.organization
        credentials = auth.Credentials(org.netbios, org.domain, accounts)
        data = {
            "netbios": org.netbios,
            "domain": org.domain,
            "accounts": [{"username": a.username, "password": a.password} for a in accounts],
        }
        write_private(self.state_dir / "credentials.json", json.dumps(data, indent=1).encode())
        write_private(self.state_dir / "password", accounts[0].password.encode())
        return credentials

    def _load_credentials(self) -> auth.Credentials:
        data = json.loads((self.state_dir / "credentials.json").read_text())
        accounts = tuple(auth.Account(a["username"], a["password"]) for a in data["accounts"])
        return auth.Credentials(data["netbios"], data["domain"], accounts)

    @property
    def authentication(self) -> Authentication:
        """How the servers authenticate (as seeded from the scenario, or as overridden)."""
        assert self.org is not None
        return Authentication.model_validate(self.org.data.get("authentication") or {})

    # -- listening ----------------------------------------------------------------------------

    def _listen(self) -> None:
        assert self.org is not None and self._credentials is not None
        names = self.org.server_names
        hostnames = [n.lower() for n in names] + [self._states[n.lower()].fqdn for n in names]
        addresses = [self._host] if _is_ip(self._host) else []
        self.tls = ensure_certificates(self.state_dir / "tls", hostnames, addresses)
        tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_context.minimum_version = ssl.TLSVersion.TLSv1_2
        tls_context.load_cert_chain(self.tls.cert_file, self.tls.key_file)
        binding = self.tls.channel_binding()
        for index, name in enumerate(names):
            state = self._states[name.lower()]
            machine = Machine(state, self.org, self.faults, self._states)
            service = WSManService(machine, self.audit, self.counters)
            context = ServerContext(
                machine,
                service,
                self._credentials,
                self.counters,
                self.faults,
                tls_context,
                binding,
                self._stopping,
                self.authentication,
            )
            port = self._port + index if self._port else 0
            try:
                listener = WinRMServer((self._host, port), context)
            except OSError as error:
                raise RemediateError(
                    "sim-port-unavailable",
                    f"cannot listen on {self._host}:{port} for {name}: {error.strerror}",
                    "choose another --port (each server uses the next one up)",
                ) from None
            self._listeners[name] = listener
            self.servers[name] = ServerEndpoint(
                name, self._host, listener.server_address[1], self._states[name.lower()].fqdn
            )
            self._threads.append(serve(listener))
        self._write_connection_file()

    def _write_connection_file(self) -> None:
        assert self.tls is not None
        data = {
            "servers": {name: {"host": e.host, "port": e.port} for name, e in self.servers.items()},
            "ca_file": str(self.tls.ca_file),
            "username": self.username,
            "password_file": str(self.state_dir / "password"),
        }
        write_private(self.state_dir / CONNECTION_FILE, json.dumps(data, indent=1).encode())

    # -- what tests and the CLI read ----------------------------------------------------------------

    @property
    def username(self) -> str:
        assert self._credentials is not None
        return self._credentials.identity(self._credentials.accounts[0].username)

    @property
    def password(self) -> str:
        assert self._credentials is not None
        return self._credentials.accounts[0].password

    @property
    def ca_file(self) -> Path:
        assert self.tls is not None
        return self.tls.ca_file

    def state(self, server: str) -> ServerState:
        return self._states[server.lower()]

    def machine(self, server: str) -> Machine:
        return self._listeners[server].context.machine

    def audit_records(self, server: str | None = None) -> list[AuditRecord]:
        return self.audit.records(server)

    def counters_for(self, server: str) -> dict[str, Any]:
        return self.counters.snapshot(server)

    def cumulative_update(self, server: str, build: str | None = None) -> None:
        """What installing a CU does to what remediate manages: web.config files are written
        afresh from the product's defaults (and the build changes, if given)."""
        from remediate.sim.scenario import Server, WebConfig
        from remediate.sim.seed import REST_FRONTEND, rest_frontend_web_config

        state = self.state(server)
        with state.lock:
            if build is not None:
                state.data["build"] = build
                major, minor, number, revision = (int(part) for part in build.split("."))
                key = state.data["registry"]["hklm:\\software\\microsoft\\exchangeserver\\v15\\setup"][
                    "values"
                ]
                for name, value in zip(
                    ("MsiProductMajor", "MsiProductMinor", "MsiBuildMajor", "MsiBuildMinor"),
                    (major, minor, number, revision),
                    strict=True,
                ):
                    key[name]["value"] = value
            spec = Server(name=state.name, build=state.build, install_path=state.data["install_path"])
            path = self.machine(server).path(state.data["install_path"] + REST_FRONTEND, "C:\\")
            state.write(path, rest_frontend_web_config(spec, WebConfig()))

    def inject(self, fault: Fault) -> Fault:
        return self.faults.add(fault)

    def clear_faults(self) -> None:
        self.faults.clear()


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
