"""A simulated server as its cmdlets see it: its own state, the shared organization, faults."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from remediate.sim.faults import FaultBook
from remediate.sim.records import PSError
from remediate.sim.store import OrgState, ServerState
from remediate.sim.winpath import IllegalPath, UnknownDrive, WinPath, parse


@dataclass
class Machine:
    state: ServerState
    org: OrgState
    faults: FaultBook
    peers: dict[str, ServerState]  # every server of the organization, this one included
    shutdown: threading.Event = field(default_factory=threading.Event)
    # Called when IIS stops: the Exchange endpoint (/PowerShell) lives in IIS.
    on_iis_stop: list[Callable[[], None]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.state.name

    def granted_parameters(self, cmdlet: str) -> set[str] | None:
        """Parameters role entries grant for `cmdlet` on the Exchange endpoint (None: not granted)."""
        granted: set[str] | None = None
        with self.org.lock:
            for entry in self.org.role_entries():
                if entry["name"].lower() == cmdlet.lower():
                    granted = (granted or set()) | set(entry["parameters"])
        return granted

    def second_hop_modelled(self) -> bool:
        """Whether the snap-in's cmdlets need a logon that can reach AD (scenario authentication)."""
        with self.org.lock:
            return bool((self.org.data.get("authentication") or {}).get("second_hop", True))

    def iis_running(self) -> bool:
        with self.state.lock:
            service = self.state.service("W3SVC")
            return service is not None and service["status"] == "Running"

    def iis_stopped(self) -> None:
        for callback in list(self.on_iis_stop):
            callback()

    def path(self, raw: str, location: str) -> WinPath:
        """Parse a path for this server; raise the errors PowerShell raises for bad ones."""
        try:
            return parse(raw, self.state.drives, location)
        except UnknownDrive as error:
            raise PSError(
                f"Cannot find drive. A drive with the name '{error.drive}' does not exist.",
                "DriveNotFound",
                category="ObjectNotFound",
                exception="System.Management.Automation.DriveNotFoundException",
                target=error.drive,
            ) from None
        except IllegalPath:
            raise PSError(
                "Illegal characters in path.",
                "System.ArgumentException",
                category="InvalidArgument",
                exception="System.ArgumentException",
                target=raw,
            ) from None

    def denied(self, path: WinPath, operation: str) -> bool:
        return self.faults.denied(self.name, path.key, "read" if operation == "read" else "write")
