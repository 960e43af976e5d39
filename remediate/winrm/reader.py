"""One server as remediate reads it: each read a real cmdlet, each made at most once per run.

`ServerReader` is the `Reader` the resources observe through. What pypsrp hands back becomes plain
values in `remediate.winrm.wire`, the one place that knows its shapes.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from remediate.support.errors import RemediateError
from remediate.winrm.session import Result, Session
from remediate.winrm.wire import content_bytes, hashes_of, plain, properties, text

SETUP_KEY = "HKLM:\\SOFTWARE\\Microsoft\\ExchangeServer\\v15\\Setup"
# Read along with the first environment variable, in the same call: the lock file's folder
# (%ProgramData%) and the records folder's descriptor source (%windir%), which every writing
# run needs. One round trip instead of three.
ALSO_READ = ("ProgramData", "windir")
_VARIABLE = re.compile(r"%([A-Za-z_][A-Za-z0-9_()]*)%")


def _missing(error: Any) -> bool:
    return (
        error.is_kind("PathNotFound")
        or "ManagementObjectNotFoundException" in error.error_id
        or "couldn't be found" in error.message
    )


def _second_hop(error: Any) -> bool:
    """Whether an Exchange error is Active Directory refusing a logon it cannot authenticate:
    LDAP's operationsError for an unauthenticated bind (000004DC: "a successful bind must be
    completed"), which Exchange reports as "Active Directory operation failed"."""
    text = f"{error.error_id} {error.message}"
    return "000004DC" in text or ("successful bind" in text and "Active Directory" in text)


def _not_found(result: Result) -> bool:
    return any(_missing(e) for e in result.errors)


class ServerReader:
    """A server for one run; implements the resources' Reader and the preconditions' BuildReader."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._cache: dict[tuple[Any, ...], Any] = {}
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.session.server.name

    @property
    def endpoint(self) -> str:
        """Where the server is, for people: 10.0.0.5:5986."""
        return self.session.endpoint

    def connect(self) -> None:
        """Open the connection now, so that its problems surface before any step."""
        self.session.connect()

    def _cached(self, key: tuple[Any, ...], read: Any) -> Any:
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        value = read()
        with self._lock:
            self._cache[key] = value
        return value

    def _fail(self, reference: str, result: Result, what: str, hint: str) -> RemediateError:
        detail = result.errors[0].message if result.errors else "no details"
        return RemediateError(reference, f"{self.name}: {what}: {detail}", hint)

    # -- environment and files ---------------------------------------------------------------

    def environment(self, name: str) -> str | None:
        """An environment variable of the server (None if unset), read once per session. The
        first read also fetches the variables every writing run needs (ALSO_READ), in the same call."""
        known = self.session.environment
        if name.lower() in known:
            return known[name.lower()]
        names = [name] + [
            other for other in ALSO_READ if other.lower() != name.lower() and other.lower() not in known
        ]
        result = self.session.invoke("server", "Get-Item", {"LiteralPath": [f"Env:\\{n}" for n in names]})
        if result.failed or any(not _missing(e) for e in result.errors):
            raise self._fail(
                "remote-read-failed", result, f"cannot read %{name}%", "run with -vv for details"
            )
        found = {}
        for item in result.output:
            entry = properties(item)
            found[str(entry.get("Name") or entry.get("Key") or "").lower()] = str(entry.get("Value") or "")
        for each in names:
            known.setdefault(each.lower(), found.get(each.lower()))
        return known[name.lower()]

    def expand(self, path: str) -> str:
        def value(match: re.Match[str]) -> str:
            found = self.environment(match.group(1))
            if found is None:
                raise RemediateError(
                    "environment-variable-missing",
                    f"{self.name}: %{match.group(1)}% is not set",
                    "ExchangeInstallPath is set by Exchange Setup: is Exchange installed on this server?"
                    if match.group(1).lower() == "exchangeinstallpath"
                    else f"check the server's system environment variables (%{match.group(1)}%)",
                )
            return found

        return _VARIABLE.sub(value, path)

    def read_file(self, path: str) -> bytes | None:
        """A file's bytes (None if it does not exist). Files remediate edits are small: at most
        MAX_XML_BYTES are read (-TotalCount), and a larger file is refused, not truncated."""
        from remediate.support.xmledit import MAX_XML_BYTES

        return self._cached(("file", path.lower()), lambda: self.read_bytes(path, MAX_XML_BYTES))  # type: ignore[no-any-return]

    def read_bytes(self, path: str, limit: int) -> bytes | None:
        """A file's exact bytes, read afresh (None if it does not exist); at most `limit` bytes
        are read (-TotalCount), and a larger file is refused, not truncated."""
        result = self.session.invoke(
            "server",
            "Get-Content",
            {"LiteralPath": path, "Encoding": "Byte", "ReadCount": 0, "TotalCount": limit + 1},
        )
        if _not_found(result):
            return None
        if result.failed or result.errors:
            denied = any("Unauthorized" in e.error_id or "denied" in e.message for e in result.errors)
            raise self._fail(
                "file-unreadable",
                result,
                f"cannot read {path}",
                "the account needs read access to the file (a local administrator has it)"
                if denied
                else "run with -vv for details",
            )
        data = content_bytes(result.output)
        if len(data) > limit:
            raise RemediateError(
                "file-too-large",
                f"{self.name}: {path} is larger than {limit} bytes; remediate reads files up to "
                "that size and read no further",
                "this is not a file remediate wrote or edits: check the path, and the file on the server",
            )
        return data

    def file_hash(self, path: str) -> str | None:
        """A file's SHA-256 computed on the server (Get-FileHash), lower-case; None if the file
        does not exist. Read afresh: it checks what was just written or is about to be."""
        result = self.session.invoke("server", "Get-FileHash", {"LiteralPath": path, "Algorithm": "SHA256"})
        if _not_found(result) and not result.output:
            return None
        if result.failed or result.errors:
            raise self._fail("file-unreadable", result, f"cannot read {path}", "run with -vv for details")
        return next(iter(hashes_of(result.output).values()), None)

    def registry_values(self, key: str) -> dict[str, Any] | None:
        """A registry key's values (name -> value: an int for a DWord, a str for a String), read
        with Get-ItemProperty once per reader, as files are (a plan's preconditions and steps
        share the reads; each read of an apply or rollback gets a new reader); None if the key
        does not exist."""
        return self._cached(("registry", key.lower()), lambda: self._registry_values(key))  # type: ignore[no-any-return]

    def _registry_values(self, key: str) -> dict[str, Any] | None:
        result = self.session.invoke("server", "Get-ItemProperty", {"LiteralPath": key})
        if _not_found(result) and not result.output:
            return None
        if result.failed or result.errors:
            raise self._fail("remote-read-failed", result, f"cannot read {key}", "run with -vv for details")
        if not result.output:
            return {}  # a key without values: Get-ItemProperty writes nothing
        return {
            name: value
            for name, value in properties(result.output[0]).items()
            if name not in ("PSPath", "PSParentPath", "PSChildName", "PSDrive", "PSProvider")
        }

    def security(self, path: str) -> str | None:
        """An item's security descriptor as SDDL (Get-Acl's `Sddl`); None if it does not exist."""
        result = self.session.invoke("server", "Get-Acl", {"LiteralPath": path})
        if _not_found(result) and not result.output:
            return None
        if result.failed or result.errors or not result.output:
            raise self._fail(
                "remote-read-failed", result, f"cannot read who may access {path}", "run with -vv"
            )
        return str(properties(result.output[0]).get("Sddl") or "")

    def child_names(self, path: str) -> list[str]:
        """The names in a folder (Get-ChildItem -Name); none if the folder does not exist."""
        result = self.session.invoke("server", "Get-ChildItem", {"LiteralPath": path, "Name": None})
        if _not_found(result) and not result.output:
            return []
        if result.failed or result.errors:
            raise self._fail("remote-read-failed", result, f"cannot list {path}", "run with -vv")
        return [str(plain(name)) for name in result.output]

    def read_text(self, path: str) -> str | None:
        """A small text file's content (`Get-Content -Raw`), read afresh each time; None if missing."""
        result = self.session.invoke("server", "Get-Content", {"LiteralPath": path, "Raw": None})
        if _not_found(result):
            return None
        if result.failed or result.errors:  # unreadable is not missing: a lock's holder must be known
            raise self._fail("file-unreadable", result, f"cannot read {path}", "run with -vv for details")
        return text(result.output)

    # -- Exchange ----------------------------------------------------------------------------

    def exchange_object(self, noun: str, identity: str) -> dict[str, Any] | None:
        def read() -> dict[str, Any] | None:
            result = self.session.invoke("exchange", f"Get-{noun}", {"Identity": identity})
            if _not_found(result) and not result.output:
                return None
            if result.failed or not result.output:
                missing = any(e.is_kind("CommandNotFoundException") for e in result.errors)
                raise self._fail(
                    "exchange-read-failed",
                    result,
                    f"cannot read {noun} '{identity}'",
                    f"the account needs a role that grants Get-{noun}"
                    if missing
                    else "run with -vv for details",
                )
            return properties(result.output[0])

        return self._cached(("exchange", noun.lower(), identity.lower()), read)  # type: ignore[no-any-return]

    def scope_filter(self, name: str) -> str | None:
        """An RBAC management scope's RecipientFilter, read afresh; None if there is no such scope."""
        result = self.session.invoke("exchange", "Get-ManagementScope", {"Identity": name})
        if result.failed and not _not_found(result):
            raise self._fail(
                "exchange-read-failed",
                result,
                f"cannot read the management scope {name}",
                "run with -vv for details",
            )
        if not result.output:
            return None
        return str(properties(result.output[0]).get("RecipientFilter") or "")

    def can_set(self, noun: str, parameter: str) -> bool:
        return self.parameter_available(f"Set-{noun}", parameter)

    def parameter_available(self, cmdlet: str, parameter: str) -> bool:
        """Whether the Exchange session has `cmdlet -parameter`: always through the snap-in (no
        RBAC); on the Exchange endpoint, only when a management role entry grants it."""
        if self.session.connection.exchange == "snapin":
            return True

        def read() -> bool:
            result = self.session.invoke(
                "exchange", "Get-ManagementRoleEntry", {"Identity": f"*\\{cmdlet}", "Parameters": parameter}
            )
            if result.failed and not _not_found(result):
                raise self._fail(
                    "exchange-read-failed",
                    result,
                    f"cannot check whether {cmdlet} -{parameter} is granted",
                    "the account needs a role that grants Get-ManagementRoleEntry, or use --exchange snapin",
                )
            return bool(result.output)

        return self._cached(("parameter", cmdlet.lower(), parameter.lower()), read)  # type: ignore[no-any-return]

    def exchange_build(self) -> str:
        def read() -> str:
            result = self.session.invoke("server", "Get-ItemProperty", {"LiteralPath": SETUP_KEY})
            if _not_found(result) or not result.output:
                raise RemediateError(
                    "exchange-not-installed",
                    f"{self.name}: {SETUP_KEY} does not exist",
                    "is this an Exchange server?",
                )
            values = properties(result.output[0])
            parts = ("MsiProductMajor", "MsiProductMinor", "MsiBuildMajor", "MsiBuildMinor")
            return ".".join(str(values.get(part, 0)) for part in parts)

        return self._cached(("build",), read)  # type: ignore[no-any-return]

    def exchange_access(self) -> None:
        """Read the organization object (Get-OrganizationConfig) through the Exchange access
        the run uses, as a preflight: the snap-in in a WinRM session whose logon cannot reach
        Active Directory (the second hop) fails here, before anything is planned or written."""

        def read() -> None:
            result = self.session.invoke("exchange", "Get-OrganizationConfig", {})
            if not result.failed and result.output:
                return
            if any(_second_hop(error) for error in result.errors):
                auth = self.session.connection.auth
                raise RemediateError(
                    "exchange-second-hop",
                    f"{self.name}: the Exchange snap-in cannot reach Active Directory with this logon ({auth}): "
                    "the second hop. The WinRM session holds a network logon, which cannot pass your credentials "
                    "on to a domain controller",
                    "log on with credentials the server may pass on: --auth credssp (over https; it hands your "
                    "password to the server), or --auth kerberos --kerberos-delegate (the server's account must be "
                    "trusted for delegation); or use --exchange remote (Exchange's own endpoint, where RBAC must "
                    "grant every parameter the playbook sets)",
                )
            raise self._fail(
                "exchange-unavailable",
                result,
                "cannot read the organization (Get-OrganizationConfig) through the Exchange access",
                "the account needs an Exchange role (View-Only Organization Management at least); run with -vv",
            )

        self._cached(("exchange-access",), read)

    def exchange_servers(self) -> list[dict[str, str]]:
        """The organization's Exchange servers (Get-ExchangeServer)."""
        result = self.session.invoke("exchange", "Get-ExchangeServer", {})
        if result.failed or not result.output:
            raise self._fail(
                "exchange-read-failed",
                result,
                "cannot list the Exchange servers",
                "the account needs a role that grants Get-ExchangeServer",
            )
        servers = []
        for found in result.output:
            values = properties(found)
            servers.append(
                {
                    "name": str(values.get("Name")),
                    "fqdn": str(values.get("Fqdn") or values.get("Name")),
                    "version": str(values.get("AdminDisplayVersion") or ""),
                    "role": str(values.get("ServerRole") or ""),
                }
            )
        return servers
