"""Talking to a server: pypsrp, one runspace pool per server and endpoint for a whole run.

Every remote action is a real cmdlet with bound parameters (`add_cmdlet`/`add_parameter`):
no script text is ever sent, so a value can never become code. pypsrp's exceptions are
mapped here, at the boundary, to RemediateErrors that say what failed and what to try.
"""

from __future__ import annotations

import contextvars
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from remediate.support.errors import RemediateError
from remediate.support.logs import get_logger
from remediate.winrm.failures import map_exception
from remediate.winrm.settings import (
    CONNECTION_ERRORS,
    EXCHANGE_SNAPIN,
    Connection,
    Credentials,
    Endpoint,
    Server,
)

log = get_logger(__name__)


@dataclass(frozen=True)
class PSErrorInfo:
    """An error a cmdlet reported (non-terminating, or the one that failed the pipeline)."""

    error_id: str  # FullyQualifiedErrorId
    message: str

    def is_kind(self, error_id: str) -> bool:
        return self.error_id.split(",", 1)[0].endswith(error_id)


@dataclass(frozen=True)
class Result:
    output: list[Any]
    errors: list[PSErrorInfo]
    failed: bool  # a terminating error ended the pipeline
    warnings: list[str]


class Session:
    """One server for the length of a run: a runspace pool per endpoint, opened when first used."""

    def __init__(self, server: Server, connection: Connection, credentials: Credentials) -> None:
        self.server = server
        self.connection = connection
        self._credentials = credentials
        self._pools: dict[str, Any] = {}
        self._snapin_loaded = False
        self._lock = threading.Lock()
        self._open_failed: dict[str, RemediateError] = {}  # opening a pool failed: not tried again
        # the server's environment variables as read during this run (they do not change in one)
        self.environment: dict[str, str | None] = {}
        # told of every runspace pool (shell) opened, with its endpoint and ShellId: a run journals
        # them, so that if it dies, a rollback can stop what it left running on the server
        self.on_open: Callable[[str, str], None] | None = None

    def _wsman(self, endpoint: Endpoint) -> Any:
        from pypsrp.wsman import WSMan

        remote = endpoint == "exchange" and self.connection.exchange == "remote"
        port = (
            self.server.exchange_port_for(self.connection)
            if remote
            else self.server.port_for(self.connection)
        )
        cert_validation: bool | str = str(self.connection.ca_file) if self.connection.ca_file else True
        if self.connection.insecure:
            import warnings

            from urllib3.exceptions import InsecureRequestWarning

            warnings.simplefilter("ignore", InsecureRequestWarning)  # the CLI has said it, loudly, once
            cert_validation = False
        connection, credentials = self.connection, self._credentials
        options: dict[str, Any] = {}
        if connection.auth in ("negotiate", "kerberos"):
            # pypsrp builds the SPN from these (service/host); Kerberos only
            options["negotiate_service"] = connection.spn_service or ("HTTP" if remote else None)
            options["negotiate_hostname_override"] = self.server.spn_hostname
            options["negotiate_delegate"] = connection.delegate or None
        return WSMan(
            self.server.address,
            port=port,
            path=self.server.exchange_path if remote else self.server.path,
            ssl=connection.transport == "https",
            auth=connection.auth,
            # no password: Kerberos from the caller's ticket cache (pyspnego reads KRB5CCNAME)
            username=credentials.username,
            password=None if credentials.password is None else str(credentials.password),
            cert_validation=cert_validation,  # type: ignore[arg-type]  # a CA path, as requests' verify takes
            # over http every message is sealed with the logon session key (never plain text);
            # over https, TLS protects it
            encryption="always" if connection.transport == "http" else "auto",
            operation_timeout=connection.timeout,
            read_timeout=connection.timeout + 10,
            connection_timeout=connection.connect_timeout,
            **{key: value for key, value in options.items() if value is not None},
        )

    def _pool(self, endpoint: Endpoint) -> Any:
        from pypsrp.powershell import RunspacePool

        from remediate.winrm import serializer

        key = "exchange" if endpoint == "exchange" and self.connection.exchange == "remote" else "server"
        pool = self._pools.get(key)
        if key in self._open_failed:
            raise self._open_failed[key]
        if pool is None:
            configuration = "Microsoft.Exchange" if key == "exchange" else "Microsoft.PowerShell"
            try:
                pool = RunspacePool(self._wsman(endpoint), configuration_name=configuration)
                serializer.install(pool)
                pool.open()
            except Exception as error:
                self._open_failed[key] = self._mapped(error, endpoint)
                raise self._open_failed[key] from None
            self._pools[key] = pool
            log.info("opened runspace pool", server=self.server.name, configuration=configuration)
            if self.on_open is not None:
                self.on_open(key, str(pool.id))
        return pool

    def _mapped(self, error: BaseException, endpoint: Endpoint) -> RemediateError:
        return map_exception(error, self.server, self.connection, endpoint, self._credentials.username)

    @property
    def endpoint(self) -> str:
        """Where the server endpoint is, for people: 10.0.0.5:5986."""
        address = f"[{self.server.address}]" if ":" in self.server.address else self.server.address
        return f"{address}:{self.server.port_for(self.connection)}"

    def connect(self) -> None:
        """Open the server endpoint's pool now, so connection problems surface before any step."""
        with self._lock:
            self._pool("server")

    def connect_soon(self) -> None:
        """Start opening the server endpoint's pool in the background: the network round trips
        then overlap with the work done meanwhile. The first call waits for it; a failure is
        raised there (and not tried again)."""
        import pypsrp.powershell  # noqa: F401  # here: importing is work, the thread's part is waiting

        ready = threading.Event()

        def open_pool() -> None:
            with self._lock:
                ready.set()
                try:
                    self._pool("server")
                except RemediateError:
                    pass  # kept in _open_failed, raised by the next call

        context = contextvars.copy_context()  # log lines from the thread keep the run's fields
        threading.Thread(
            target=context.run, args=(open_pool,), name=f"connect-{self.server.name}", daemon=True
        ).start()
        ready.wait()  # the lock is held: later calls queue behind the opening

    def invoke(
        self,
        endpoint: Endpoint,
        cmdlet: str,
        parameters: dict[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> Result:
        """Run one cmdlet with bound parameters (None as a value means a switch). It must end
        within `timeout` seconds (default: the connection's operation timeout), or it is
        stopped and the call fails with `call-timeout`."""
        return self.invoke_pipeline(endpoint, [(cmdlet, parameters or {})], timeout=timeout)

    def invoke_pipeline(
        self,
        endpoint: Endpoint,
        commands: list[tuple[str, dict[str, Any]]],
        *,
        timeout: float | None = None,
    ) -> Result:
        """Run cmdlets as one pipeline, each with bound parameters: what one writes is the next
        one's input, on the server (a live object that could not travel to the client and back)."""
        return self._invoke(endpoint, commands, timeout=timeout, batch=False)

    def invoke_batch(
        self,
        endpoint: Endpoint,
        commands: list[tuple[str, dict[str, Any]]],
        *,
        timeout: float | None = None,
        stop: bool = True,
    ) -> Result:
        """Run cmdlets as statements of one request (one round trip, not one per cmdlet), each
        with bound parameters and `-ErrorAction Stop` (unless `stop` is False: reads whose
        non-terminating errors are answers): the first error stops the statements after
        it (PowerShell's batch invocation stops on ActionPreferenceStopException; another
        terminating error, such as a parameter that does not bind, would let the next statement
        run, so a batch never holds a statement that is unsafe after its predecessor failed to
        bind). Their output comes back as one stream: batch only cmdlets whose output is told
        apart by its own properties, or that write none."""
        if stop:
            commands = [(cmdlet, {**parameters, "ErrorAction": "Stop"}) for cmdlet, parameters in commands]
        return self._invoke(endpoint, commands, timeout=timeout, batch=True)

    def _invoke(
        self,
        endpoint: Endpoint,
        commands: list[tuple[str, dict[str, Any]]],
        *,
        timeout: float | None,
        batch: bool,
    ) -> Result:
        from pypsrp.powershell import PowerShell

        limit = timeout or self.connection.timeout
        name = ("; " if batch else " | ").join(cmdlet for cmdlet, _ in commands)
        with self._lock:
            pool = self._pool(endpoint)
            if endpoint == "exchange" and self.connection.exchange == "snapin" and not self._snapin_loaded:
                self._load_snapin(pool)
            shell = PowerShell(pool)
            for cmdlet, parameters in commands:
                shell.add_cmdlet(cmdlet)
                for parameter, value in parameters.items():
                    shell.add_parameter(parameter, value)
                if batch:
                    shell.add_statement()
                log.debug("invoke", server=self.server.name, cmdlet=cmdlet, parameters=sorted(parameters))
            try:
                output = self._wait(shell, name, limit)
            except RemediateError:
                raise
            except Exception as error:
                mapped = self._mapped(error, endpoint)
                if mapped.reference in CONNECTION_ERRORS:
                    # The pool's connection is gone, and pypsrp cannot resume it (NTLM is bound
                    # to the TCP connection): the next call opens a new pool.
                    self._forget_pools()
                raise mapped from None
            finally:
                # pypsrp's pool keeps every pipeline it ran (with its parameters and output)
                # until it is closed; a finished one is not needed, and 50 servers' add up
                pool.pipelines.pop(shell.id, None)
        errors = [PSErrorInfo(str(e.fq_error or ""), str(e)) for e in shell.streams.error]
        warnings = [str(w.message) for w in shell.streams.warning]
        return Result(list(output), errors, bool(shell.had_errors), warnings)

    def _wait(self, shell: Any, cmdlet: str, limit: float) -> list[Any]:
        """pypsrp's invoke, with a deadline: each Receive waits at most the time left."""
        from pypsrp.powershell import PSInvocationState

        deadline = time.monotonic() + limit
        shell.begin_invoke()
        while shell.state == PSInvocationState.RUNNING:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._stop(shell)
                raise RemediateError(
                    "call-timeout",
                    f"{self.server.name}: {cmdlet} did not finish within {limit:g}s; it was stopped",
                    "the server may be overloaded or the command stuck; check it, then raise --timeout "
                    "(or --restart-timeout for restarts) if it is only slow",
                )
            wait = max(1, min(math.ceil(remaining), self.connection.timeout))
            shell.poll_invoke(timeout=wait)
        return list(shell.output)

    def _stop(self, shell: Any) -> None:
        """Ask the server to stop a pipeline (ctrl-c); if even that fails, drop the pools."""
        try:
            shell.stop()
        except Exception as error:
            log.info("stopping a timed-out pipeline failed", server=self.server.name, error=str(error))
            self._forget_pools()

    def _load_snapin(self, pool: Any) -> None:
        from pypsrp.powershell import PowerShell

        shell = PowerShell(pool)
        shell.add_cmdlet("Add-PSSnapin").add_parameter("Name", EXCHANGE_SNAPIN)
        try:
            shell.invoke()
        except Exception as error:
            raise self._mapped(error, "exchange") from None
        problems = [e for e in shell.streams.error if "already added" not in str(e)]
        if problems:
            raise RemediateError(
                "exchange-snapin-unavailable",
                f"{self.server.name}: cannot load the Exchange snap-in: {problems[0]}",
                "is Exchange installed on this server? Otherwise use --exchange remote",
            )
        self._snapin_loaded = True

    def open_shells(self) -> list[tuple[str, str]]:
        """The runspace pools open now: (endpoint key, ShellId)."""
        with self._lock:
            return [(key, str(pool.id)) for key, pool in self._pools.items()]

    def delete_shell(self, endpoint_key: str, shell_id: str) -> bool:
        """Delete a shell on the server (WS-Management Delete), stopping whatever it still runs:
        what a client that died left behind. False if the server no longer has it."""
        from pypsrp.exceptions import WSManFaultError
        from pypsrp.wsman import SelectorSet

        endpoint: Endpoint = "exchange" if endpoint_key == "exchange" else "server"
        configuration = "Microsoft.Exchange" if endpoint_key == "exchange" else "Microsoft.PowerShell"
        selectors = SelectorSet()
        selectors.add_option("ShellId", shell_id)
        try:
            self._wsman(endpoint).delete(
                f"http://schemas.microsoft.com/powershell/{configuration}", selector_set=selectors
            )
        except WSManFaultError as error:
            if "not found" in str(error.reason or "").lower() or error.code == 2150858843:
                return False
            raise self._mapped(error, endpoint) from None
        except Exception as error:
            raise self._mapped(error, endpoint) from None
        return True

    def reset(self) -> None:
        """Forget the pools without closing them (their connection is gone); the next call opens new ones."""
        with self._lock:
            self._forget_pools()

    def _forget_pools(self) -> None:
        self._pools = {}
        self._open_failed = {}
        self._snapin_loaded = False

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            try:
                pool.close()
            except Exception as error:  # a broken pool cannot be closed; the server drops it
                log.debug("closing runspace pool failed", server=self.server.name, error=str(error))
