"""The writing side of a server: the only code that changes one. Only the executor holds it.

Every write is a real cmdlet with bound parameters, and checked: a file is written beside
its target, its SHA-256 read back, and only then moved over the target in one step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from remediate.support.errors import RemediateError
from remediate.winrm.services import ServiceActions
from remediate.winrm.session import PSErrorInfo, Result, Session
from remediate.winrm.wire import hashes_of, properties


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


class ServerWriter(ServiceActions):
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- files -------------------------------------------------------------------------------

    def remove_file(self, path: str) -> None:
        result = self.session.invoke("server", "Remove-Item", {"LiteralPath": path, "Force": None})
        if result.failed or (result.errors and not any(e.is_kind("PathNotFound") for e in result.errors)):
            detail = result.errors[0].message if result.errors else "the command failed"
            raise RemediateError(
                "write-failed", f"{self.name}: cannot remove {path}: {detail}", "remove it by hand"
            )

    def batch(self, commands: list[tuple[str, dict[str, Any]]], what: str, hint: str) -> Result:
        """Several cmdlets in one request (`Session.invoke_batch`): the first error stops the rest."""
        return self._checked(self.session.invoke_batch("server", commands), what, hint)

    def put_and_hash(self, path: str, content: bytes) -> str | None:
        """Write a file and read its SHA-256 back, in one request."""
        result = self.batch(
            [
                ("Set-Content", {"LiteralPath": path, "Value": content, "Encoding": "Byte"}),
                ("Get-FileHash", {"LiteralPath": path, "Algorithm": "SHA256"}),
            ],
            f"cannot write {path}",
            "the account needs write access to the folder",
        )
        return next(iter(hashes_of(result.output).values()), None)

    def put_and_move(self, temporary: str, path: str, content: bytes) -> None:
        """Write `temporary`, then move it over `path`, in one request (Move-Item runs only if
        Set-Content succeeded)."""
        self.batch(
            [
                ("Set-Content", {"LiteralPath": temporary, "Value": content, "Encoding": "Byte"}),
                ("Move-Item", {"LiteralPath": temporary, "Destination": path, "Force": None}),
            ],
            f"cannot write {path}",
            "the account needs write access to the folder",
        )

    def replace_file(self, path: str, content: bytes, tag: str) -> str | None:
        """Write beside the target, check the copy's SHA-256, then move it over the target; the
        target's SHA-256 afterwards, read in the move's request (None if there was none)."""
        temporary = f"{path}.remediate-{tag}.tmp"
        if self.put_and_hash(temporary, content) != sha256(content):
            self.remove_file(temporary)
            raise RemediateError(
                "write-mismatch",
                f"{self.name}: {temporary} does not hold what was written",
                "the disk or a filter driver altered the file; nothing was replaced",
            )
        result = self.batch(
            [
                ("Move-Item", {"LiteralPath": temporary, "Destination": path, "Force": None}),
                ("Get-FileHash", {"LiteralPath": path, "Algorithm": "SHA256"}),
            ],
            f"cannot replace {path}",
            "is the file locked by another process, or read-only?",
        )
        return next(iter(hashes_of(result.output).values()), None)  # one statement writes a hash

    def make_folder(self, path: str) -> None:
        """A folder (and any missing above it); one that exists already is fine."""
        result = self.session.invoke("server", "New-Item", {"ItemType": "Directory", "Path": path})
        if result.failed or (result.errors and not any(e.is_kind("DirectoryExist") for e in result.errors)):
            detail = result.errors[0].message if result.errors else "the command failed"
            raise RemediateError(
                "write-failed",
                f"{self.name}: cannot create {path}: {detail}",
                "the account must be an administrator",
            )

    def copy_security(self, source: str, target: str) -> None:
        """Give `target` the security descriptor of `source`, on the server: Get-Acl's live
        descriptor piped into Set-Acl (a deserialized one is refused: SetAcl_AclObject)."""
        result = self.session.invoke_pipeline(
            "server", [("Get-Acl", {"LiteralPath": source}), ("Set-Acl", {"LiteralPath": target})]
        )
        if result.failed or result.errors:
            detail = result.errors[0].message if result.errors else "the command failed"
            raise RemediateError(
                "write-failed",
                f"{self.name}: cannot make {target} owner-only (Get-Acl {source} | Set-Acl): {detail}",
                "the account must be a local administrator",
            )

    def remove_tree(self, path: str) -> None:
        """A folder and all in it (gone already is fine)."""
        result = self.session.invoke(
            "server", "Remove-Item", {"LiteralPath": path, "Recurse": None, "Force": None}
        )
        if result.failed or (result.errors and not any(e.is_kind("PathNotFound") for e in result.errors)):
            detail = result.errors[0].message if result.errors else "the command failed"
            raise RemediateError(
                "write-failed", f"{self.name}: cannot remove {path}: {detail}", "remove it by hand"
            )

    def create_exclusive(self, path: str, text: str) -> bool:
        """Create a file that must not exist yet (New-Item without -Force); False if it exists."""
        return self._create_once(
            "server",
            "New-Item",
            {"ItemType": "File", "Path": path, "Value": text},
            lambda e: e.is_kind("NewItemIOError") and "already exists" in e.message,
            f"cannot create {path}",
            "check the folder exists and is writable",
        )

    def _create_once(
        self,
        endpoint: str,
        cmdlet: str,
        parameters: dict[str, Any],
        exists: Callable[[PSErrorInfo], bool],
        what: str,
        hint: str,
    ) -> bool:
        """Create something that must not exist yet, in one step on the server (a lock's claim):
        True if created, False if it exists; any other failure is an error."""
        result = self.session.invoke(endpoint, cmdlet, parameters)  # type: ignore[arg-type]
        if any(exists(e) for e in result.errors):
            return False
        if result.failed or result.errors:
            detail = result.errors[0].message if result.errors else "the command failed"
            raise RemediateError("lock-failed", f"{self.name}: {what}: {detail}", hint)
        return True

    # -- registry -----------------------------------------------------------------------------

    def new_registry_key(self, key: str) -> None:
        """One key, whose parent exists; one that exists already is fine. Never New-Item
        -Force: on a key that exists it deletes the key, its values and subkeys, and makes it
        again empty (RegistryProvider.NewItem)."""
        result = self.session.invoke("server", "New-Item", {"Path": key})
        exists = [e for e in result.errors if "already exists" in e.message]
        if result.failed or (result.errors and len(exists) != len(result.errors)):
            detail = result.errors[0].message if result.errors else "the command failed"
            raise RemediateError(
                "write-failed",
                f"{self.name}: cannot create {key}: {detail}",
                "the account must be an administrator",
            )

    def new_registry_value(self, key: str, name: str, value: Any, kind: str) -> None:
        self._run(
            "server",
            "New-ItemProperty",
            {"LiteralPath": key, "Name": name, "Value": value, "PropertyType": kind},
            f"cannot create {key}\\{name}",
            "the account must be an administrator",
        )

    def set_registry_value(self, key: str, name: str, value: Any) -> None:
        self._run(
            "server",
            "Set-ItemProperty",
            {"LiteralPath": key, "Name": name, "Value": value},
            f"cannot set {key}\\{name}",
            "the account must be an administrator",
        )

    def remove_registry_value(self, key: str, name: str) -> None:
        self._run(
            "server",
            "Remove-ItemProperty",
            {"LiteralPath": key, "Name": name},
            f"cannot remove {key}\\{name}",
            "the account must be an administrator",
        )

    def remove_registry_key(self, key: str) -> bool:
        """A key remediate created, only while it is empty (no value, no subkey: Get-Item's
        ValueCount and SubKeyCount); False, and left alone, otherwise. A step of the same run
        whose value is still in it removes it when its own turn comes."""
        result = self.session.invoke("server", "Get-Item", {"LiteralPath": key})
        if not result.output:
            return True  # gone already
        values = properties(result.output[0])
        if int(values.get("ValueCount") or 0) or int(values.get("SubKeyCount") or 0):
            return False
        self._run("server", "Remove-Item", {"LiteralPath": key}, f"cannot remove {key}", "remove it by hand")
        return True

    # -- Exchange ----------------------------------------------------------------------------

    def set_property(self, noun: str, identity: str, name: str, value: Any) -> None:
        self._run(
            "exchange",
            f"Set-{noun}",
            {"Identity": identity, name: value},
            f"Set-{noun} -Identity '{identity}' -{name} failed",
            "with --exchange remote, RBAC may not grant the parameter: try --exchange snapin",
        )

    def new_setting_override(
        self, name: str, component: str, section: str, parameters: list[str], reason: str
    ) -> None:
        self._run(
            "exchange",
            "New-SettingOverride",
            {
                "Name": name,
                "Component": component,
                "Section": section,
                "Parameters": parameters,
                "Reason": reason,
            },
            f"New-SettingOverride -Name '{name}' failed",
            "the account needs the Organization Configuration role (Organization Management has it)",
        )

    def remove_setting_override(self, name: str) -> None:
        self._run(
            "exchange",
            "Remove-SettingOverride",
            {"Identity": name, "Confirm": False},
            f"Remove-SettingOverride -Identity '{name}' failed",
            "remove it by hand (Remove-SettingOverride)",
        )

    def refresh_variant_configuration(self) -> None:
        """Make this server's Exchange processes read setting overrides now (Microsoft's step
        after New-/Remove-SettingOverride)."""
        self._run(
            "exchange",
            "Get-ExchangeDiagnosticInfo",
            {
                "Process": "Microsoft.Exchange.Directory.TopologyService",
                "Component": "VariantConfiguration",
                "Argument": "Refresh",  # in this server's own session: this server
            },
            "the variant configuration refresh failed",
            "run it by hand: Get-ExchangeDiagnosticInfo -Process Microsoft.Exchange.Directory.TopologyService "
            "-Component VariantConfiguration -Argument Refresh",
        )

    def create_scope(self, name: str, recipient_filter: str) -> bool:
        """Create an (unused) RBAC management scope; False if one of that name exists. Exchange
        creates an AD object: the check and the claim are one step, seen by the whole organization."""
        return self._create_once(
            "exchange",
            "New-ManagementScope",
            {"Name": name, "RecipientRestrictionFilter": recipient_filter},
            lambda e: "already exists" in e.message or "AlreadyExists" in e.error_id,
            f"cannot create the management scope {name}",
            "the account needs the Role Management role (Organization Management has it), or use --exchange snapin",
        )

    def remove_scope(self, name: str) -> None:
        self._run(
            "exchange",
            "Remove-ManagementScope",
            {"Identity": name, "Confirm": False},
            f"cannot remove the management scope {name}",
            "remove it by hand (Remove-ManagementScope) once no remediate run is in progress",
        )

    # -- services and IIS -----------------------------------------------------------------------
