"""Services and IIS: Get-Service, Restart-Service, Restart-WebAppPool, Get-WebAppPoolState.

IIS is W3SVC on top of WAS. While either is stopped, every app pool is stopped and the
Exchange endpoint (/PowerShell, an IIS application) cannot be reached; restarting them breaks
the Exchange sessions that were open, as on a real server.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from remediate.sim.engine import Call, Cmdlet, Param
from remediate.sim.records import (
    PSError,
    ServiceControllerStatus,
    ServiceStartMode,
    StringArray,
    custom_object,
    dotnet_object,
)
from remediate.sim.store import now_iso

IIS_SERVICES = ("was", "w3svc")
_WAIT_TICK = 2.0  # Restart-Service warns "Waiting for service ..." about every two seconds
SERVICE_EXCEPTION = "Microsoft.PowerShell.Commands.ServiceCommandException"
RESTART_SERVICE = "Microsoft.PowerShell.Commands.RestartServiceCommand"


def _label(service: dict[str, Any]) -> str:
    return f"{service['display_name']} ({service['name']})"


def _dependents(call: Call, name: str) -> list[dict[str, Any]]:
    """Services that depend on `name`, directly or not, dependents first."""
    found: list[dict[str, Any]] = []
    for service in call.machine.state.services():
        if name.lower() in (d.lower() for d in service["depends_on"]):
            for deeper in _dependents(call, service["name"]):
                if deeper not in found:
                    found.append(deeper)
            if service not in found:
                found.append(service)
    return found


def service_object(call: Call, service: dict[str, Any]) -> Any:
    dependents = [s["name"] for s in _dependents(call, service["name"])]
    return dotnet_object(
        [
            "System.ServiceProcess.ServiceController",
            "System.ComponentModel.Component",
            "System.MarshalByRefObject",
        ],
        {
            "ServiceName": service["name"],
            "DisplayName": service["display_name"],
            "Status": ServiceControllerStatus[service["status"]],
            "StartType": ServiceStartMode[service["start_type"]],
            "CanStop": service["status"] == "Running",
            "CanPauseAndContinue": False,
            "CanShutdown": False,
            "MachineName": ".",
            "ServicesDependedOn": StringArray(service["depends_on"]),
            "DependentServices": StringArray(dependents),
            # nested objects at remoting depth 1 go out as their strings (as in the capture's
            # nested services); no site or container outside a designer
            "ServiceHandle": "SafeServiceHandle",
            "ServiceType": "Win32ShareProcess",
            "Site": None,
            "Container": None,
        },
        {"Name": service["name"], "RequiredServices": StringArray(service["depends_on"])},
        to_string="System.ServiceProcess.ServiceController",
    )


def _matching(call: Call) -> list[dict[str, Any]]:
    state = call.machine.state
    names = call.get("Name")
    if not names:
        return sorted(state.services(), key=lambda s: s["name"].lower())
    matched: list[dict[str, Any]] = []
    for name in names:
        hits = [s for s in state.services() if fnmatch.fnmatchcase(s["name"].lower(), name.lower())]
        if not hits and not any(c in name for c in "*?["):
            call.error(
                PSError(
                    f"Cannot find any service with service name '{name}'.",
                    "NoServiceFoundForGivenName",
                    category="ObjectNotFound",
                    exception=SERVICE_EXCEPTION,
                    target=name,
                )
            )
        matched.extend(hit for hit in hits if hit not in matched)
    return matched


def _get_service(call: Call) -> None:
    with call.machine.state.lock:
        services = _matching(call)
        objects = [service_object(call, service) for service in services]
    for obj in objects:
        call.output(obj)


def _wait(call: Call, seconds: float, message: str) -> None:
    """Wait like Restart-Service does, warning every two seconds."""
    waited = 0.0
    while waited < seconds:
        step = min(_WAIT_TICK, seconds - waited)
        call.sleep(step)
        waited += step
        if step == _WAIT_TICK and waited < seconds:
            call.warning(message)


def _set_status(call: Call, services: list[dict[str, Any]], status: str) -> None:
    state = call.machine.state
    with state.lock:
        for service in services:
            state.service(service["name"])["status"] = status  # type: ignore[index]
        state.save()


def _restart_one(call: Call, service: dict[str, Any]) -> None:
    machine = call.machine
    seconds = machine.org.restart_seconds
    running_dependents = [d for d in _dependents(call, service["name"]) if d["status"] == "Running"]
    if running_dependents and not call.get("Force"):
        call.error(
            PSError(
                f"Cannot stop service '{_label(service)}' because it has dependent services. It can only be "
                "stopped if the Force flag is set.",
                "ServiceHasDependentServices",
                category="InvalidOperation",
                exception=SERVICE_EXCEPTION,
                target=service["name"],
            )
        )
        return
    stopping = [*running_dependents, service]
    _set_status(call, stopping, "StopPending")
    _wait(call, seconds / 2, f"Waiting for service '{_label(service)}' to stop...")
    _set_status(call, stopping, "Stopped")
    if any(s["name"].lower() in IIS_SERVICES for s in stopping):
        machine.iis_stopped()
    failure = machine.faults.restart_failure(machine.name, service["name"])
    if failure is not None and failure.mode == "fail":
        call.error(
            PSError(
                f"Service '{_label(service)}' cannot be started due to the following error: Cannot start service "
                f"{service['name']} on computer '.'.",
                "CouldNotStartService",
                category="OpenError",
                exception=SERVICE_EXCEPTION,
                target=service["name"],
            )
        )
        return
    starting = [service, *reversed(running_dependents)]
    _set_status(call, starting, "StartPending")
    if failure is not None and failure.mode == "hang":
        _wait(call, failure.hang_seconds, f"Waiting for service '{_label(service)}' to start...")
    _wait(call, seconds / 2, f"Waiting for service '{_label(service)}' to start...")
    _set_status(call, starting, "Running")


def _pools_started(call: Call) -> None:
    """WAS starts the pools whose autoStart is true; a pool an administrator stopped in IIS
    Manager (autoStart false) stays stopped. A pool whose worker fails is stopped by rapid-fail
    protection (the app-pool fault)."""
    machine = call.machine
    with machine.state.lock:
        for pool in machine.state.app_pools():
            if not pool.get("auto_start", True):
                continue
            failed = machine.faults.app_pool_fails(machine.name, pool["name"])
            pool["state"] = "Stopped" if failed else "Started"
            pool["started"] = now_iso()
        machine.state.save()


def _restart_service(call: Call) -> None:
    with call.machine.state.lock:
        services = _matching(call)
    iis = False
    for service in services:
        _restart_one(call, service)
        iis = (
            iis
            or service["name"].lower() in IIS_SERVICES
            or any(d["name"].lower() in IIS_SERVICES for d in _dependents(call, service["name"]))
        )
        if call.get("PassThru"):
            with call.machine.state.lock:
                current = call.machine.state.service(service["name"])
                assert current is not None
                call.output(service_object(call, current))
    if iis and call.machine.iis_running() and _was_running(call):
        _pools_started(call)  # once W3SVC and WAS both run again


# -- IIS (WebAdministration module) --------------------------------------------------------------


def pool_state(call: Call, pool: dict[str, Any]) -> str:
    return pool["state"] if call.machine.iis_running() and _was_running(call) else "Stopped"


def _was_running(call: Call) -> bool:
    was = call.machine.state.service("WAS")
    return was is not None and was["status"] == "Running"


def _pool(call: Call, name: str) -> dict[str, Any] | None:
    pool = call.machine.state.app_pool(name)
    if pool is None:
        # Not verified against Windows: the WebAdministration provider's own wording may differ.
        call.error(
            PSError(
                f"Cannot find path 'IIS:\\AppPools\\{name}' because it does not exist.",
                "PathNotFound",
                category="ObjectNotFound",
                exception="System.Management.Automation.ItemNotFoundException",
                target=name,
            )
        )
    return pool


def _restart_web_app_pool(call: Call) -> None:
    state = call.machine.state
    with state.lock:
        pool = _pool(call, call.get("Name"))
        if pool is None:
            return
        if pool_state(call, pool) != "Started":
            call.error(
                PSError(
                    "The object identifier does not represent a valid object. (Exception from HRESULT: 0x800710D8)",
                    "System.Runtime.InteropServices.COMException",
                    category="NotSpecified",
                    exception="System.Runtime.InteropServices.COMException",
                    target=None,
                )
            )
            return
        pool["recycles"] += 1
        pool["started"] = now_iso()
        if call.machine.faults.app_pool_fails(call.machine.name, pool["name"]):
            pool["state"] = "Stopped"
        state.save()


def _get_web_app_pool_state(call: Call) -> None:
    state = call.machine.state
    with state.lock:
        names = [call.get("Name")] if call.given("Name") else [p["name"] for p in state.app_pools()]
        for name in names:
            pool = _pool(call, name)
            if pool is not None:
                call.output(
                    custom_object(
                        Value=pool_state(call, pool),
                        ItemXPath=f"/system.applicationHost/applicationPools/add[@name='{pool['name']}']",
                    )
                )


_SERVICE_NAME = Param("Name", "strings", aliases=("ServiceName",), position=0)
CMDLETS = (
    Cmdlet(
        "Get-Service",
        "Microsoft.PowerShell.Commands.GetServiceCommand",
        (
            _SERVICE_NAME,
            Param("DisplayName", "strings"),
            Param("Include", "strings"),
            Param("Exclude", "strings"),
            Param("InputObject", "objects"),
            Param("DependentServices", "switch", aliases=("DS",)),
            Param("RequiredServices", "switch", aliases=("SDO", "ServicesDependedOn")),
            Param("ComputerName", "strings", aliases=("Cn",)),
        ),
        _get_service,
    ),
    Cmdlet(
        "Restart-Service",
        RESTART_SERVICE,
        (
            _SERVICE_NAME,
            Param("DisplayName", "strings"),
            Param("InputObject", "objects"),
            Param("Include", "strings"),
            Param("Exclude", "strings"),
            Param("Force", "switch"),
            Param("PassThru", "switch"),
        ),
        _restart_service,
        should_process=True,
        one_of=(("Name", "DisplayName", "InputObject"),),
    ),
    Cmdlet(
        "Restart-WebAppPool",
        "Microsoft.IIs.PowerShell.Provider.RestartAppPoolCommand",
        (Param("Name", "string", position=0), Param("InputObject", "object")),
        _restart_web_app_pool,
        source="webadministration",
        should_process=True,
        one_of=(("Name", "InputObject"),),
    ),
    Cmdlet(
        "Get-WebAppPoolState",
        "Microsoft.IIs.PowerShell.Provider.GetAppPoolStateCommand",
        (Param("Name", "string", position=0),),  # a scalar String (Microsoft docs)
        _get_web_app_pool_state,
        source="webadministration",
    ),
)
