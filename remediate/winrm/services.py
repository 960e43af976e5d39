"""What a server runs: restarting and reading services and IIS app pools (the handlers' side
of `ServerWriter`)."""

from __future__ import annotations

import re
from typing import Any

from remediate.support.errors import RemediateError
from remediate.winrm.session import Result, Session
from remediate.winrm.wire import properties


class ServiceActions:
    session: Session

    @property
    def name(self) -> str:
        return self.session.server.name

    def _run(
        self,
        endpoint: str,
        cmdlet: str,
        parameters: dict[str, Any],
        what: str,
        hint: str,
        timeout: float | None = None,
    ) -> Result:
        result = self.session.invoke(endpoint, cmdlet, parameters, timeout=timeout)  # type: ignore[arg-type]
        return self._checked(result, what, hint)

    def _checked(self, result: Result, what: str, hint: str) -> Result:
        """`result`, unless a command failed or wrote an error: then `write-failed`."""
        if result.failed or result.errors:
            detail = result.errors[0].message if result.errors else "the command failed"
            raise RemediateError("write-failed", f"{self.name}: {what}: {detail}", hint)
        return result

    def _failure(self, cmdlet: str, result: Result) -> RemediateError:
        detail = result.errors[0].message if result.errors else "the command failed"
        return RemediateError(
            "health-read-failed", f"{self.name}: {cmdlet} failed: {detail}", "run with -vv for details"
        )

    def restart_services(self, names: list[str]) -> None:
        self._run(
            "server",
            "Restart-Service",
            {"Name": names, "Force": None},
            f"Restart-Service {','.join(names)} failed",
            "check the services on the server (Get-Service); they may need starting by hand",
            timeout=self.session.connection.restart_timeout,
        )

    def recycle(self, pool: str) -> None:
        self._run(
            "server",
            "Restart-WebAppPool",
            {"Name": pool},
            f"Restart-WebAppPool {pool} failed",
            "is the app pool started? Check IIS Manager",
            timeout=self.session.connection.restart_timeout,
        )

    def service_states(self, names: list[str]) -> dict[str, str]:
        result = self.session.invoke("server", "Get-Service", {"Name": names})
        if result.failed:  # a missing service is a non-terminating error: it shows as missing
            raise self._failure("Get-Service", result)
        return _services(result.output)

    def running(self, names: list[str]) -> tuple[dict[str, str], dict[str, str]]:
        """The services' states and every app pool's, in one request (Get-Service;
        Get-WebAppPoolState as two statements, without -ErrorAction Stop: a missing service is
        a non-terminating error and shows as missing). Told apart by their properties: a
        pool's state has ItemXPath."""
        result = self.session.invoke_batch(
            "server", [("Get-Service", {"Name": names}), ("Get-WebAppPoolState", {})], stop=False
        )
        if result.failed:
            raise self._failure("Get-Service; Get-WebAppPoolState", result)
        services: list[Any] = []
        pools: list[Any] = []
        for item in result.output:
            (pools if "ItemXPath" in properties(item) else services).append(item)
        return _services(services), _pools(pools)

    def pool_state(self, name: str) -> str | None:
        """One app pool's run-time state (Started, Stopped, ...); None if there is no such pool.
        -Name is a scalar String: one call per pool."""
        result = self.session.invoke("server", "Get-WebAppPoolState", {"Name": name})
        if result.failed:
            raise self._failure("Get-WebAppPoolState", result)
        if not result.output:
            return None
        return str(properties(result.output[0]).get("Value"))

    def pool_states(self) -> dict[str, str]:
        """Every app pool's run-time state, by name (from each object's ItemXPath)."""
        result = self.session.invoke("server", "Get-WebAppPoolState", {})
        if result.failed:
            raise self._failure("Get-WebAppPoolState", result)
        return _pools(result.output)


def _services(output: list[Any]) -> dict[str, str]:
    states = {}
    for service in output:
        values = properties(service)
        states[str(values.get("Name") or values.get("ServiceName"))] = str(values.get("Status"))
    return states


def _pools(output: list[Any]) -> dict[str, str]:
    states = {}
    for index, state in enumerate(output):
        values = properties(state)
        states[_pool_name(values.get("ItemXPath")) or f"#{index}"] = str(values.get("Value"))
    return states


def _pool_name(xpath: Any) -> str | None:
    """The pool an ItemXPath names: /system.applicationHost/applicationPools/add[@name='X']."""
    found = re.search(r"@name='((?:[^']|'')*)'", str(xpath or ""))
    return found.group(1).replace("''", "'") if found else None
