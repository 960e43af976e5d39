"""Who may log on to the simulated organization, and how a logon is checked.

NTLM and Negotiate use pyspnego's acceptor, which reads accounts from the file named by the
NTLM_USER_FILE environment variable. That variable is process-wide, so every simulator in a
process shares one private file holding the union of their accounts (each simulator still
only answers to its own organization's domain).
"""

from __future__ import annotations

import atexit
import base64
import binascii
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import spnego
from spnego.channel_bindings import GssChannelBindings

_lock = threading.Lock()
_lines: dict[tuple[str, str], str] = {}
_directory: Path | None = None


@dataclass(frozen=True)
class Account:
    username: str
    password: str


@dataclass(frozen=True)
class Credentials:
    netbios: str
    domain: str
    accounts: tuple[Account, ...]

    def identity(self, username: str) -> str:
        return f"{self.netbios}\\{username}"

    def check_basic(self, header_value: str) -> str | None:
        """The identity for a Basic `user:password`, or None."""
        try:
            decoded = base64.b64decode(header_value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        username, _, password = decoded.partition(":")
        user = self._account_name(username)
        for account in self.accounts:
            if user is not None and account.username.lower() == user.lower() and account.password == password:
                return self.identity(account.username)
        return None

    def _account_name(self, username: str) -> str | None:
        if "\\" in username:
            domain, _, user = username.partition("\\")
            return user if domain.lower() in (self.netbios.lower(), self.domain.lower()) else None
        if "@" in username:
            user, _, domain = username.partition("@")
            return user if domain.lower() == self.domain.lower() else None
        return username

    def normalise(self, principal: str) -> str | None:
        """An NTLM client principal as this organization's identity, or None if foreign."""
        user = self._account_name(principal)
        for account in self.accounts:
            if user is not None and account.username.lower() == user.lower():
                return self.identity(account.username)
        return None

    def ntlm_lines(self) -> dict[tuple[str, str], str]:
        lines = {}
        for account in self.accounts:
            for domain, user in (
                (self.netbios, account.username),
                (self.domain, account.username),
                ("", account.username),
                ("", f"{account.username}@{self.domain}"),
            ):
                lines[(domain.upper(), user.upper())] = f"{domain}:{user}:{account.password}"
        return lines


def register(credentials: Credentials) -> None:
    """Make `credentials` known to pyspnego's NTLM acceptor in this process."""
    global _directory
    with _lock:
        _lines.update(credentials.ntlm_lines())
        if _directory is None:
            _directory = Path(tempfile.mkdtemp(prefix="remediate-sim-ntlm-"))
            atexit.register(shutil.rmtree, _directory, True)
        path = _directory / "users"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write("\n".join(_lines.values()) + "\n")
        os.environ["NTLM_USER_FILE"] = str(path)


def acceptor(channel_binding: bytes | None) -> spnego.ContextProxy:
    """Negotiate: NTLM (accounts from NTLM_USER_FILE) or Kerberos (keys from the keytab that
    KRB5_KTNAME names, when gssapi is installed)."""
    bindings = GssChannelBindings(application_data=channel_binding) if channel_binding else None
    return spnego.server(protocol="negotiate", channel_bindings=bindings)


def credssp_acceptor() -> spnego.ContextProxy:
    """CredSSP: a TLS channel inside the HTTP exchange, Negotiate inside that, then the
    client's password handed over (pyspnego's acceptor)."""
    return spnego.server(protocol="credssp")


@dataclass(frozen=True)
class Logon:
    """Who logged on to a connection, how, and whether the logon can reach Active Directory
    on the user's behalf (the second hop): only with credentials handed to the server."""

    identity: str
    mechanism: str  # ntlm, kerberos, basic, credssp
    delegated: bool = False


def delegated_kerberos(context: spnego.ContextProxy) -> bool:
    """Whether the client delegated its Kerberos ticket in this context."""
    return bool(context.context_attr & spnego.ContextReq.delegate)


def check_password(credentials: Credentials, domain: str, username: str, password: str) -> str | None:
    """The identity for credentials a CredSSP client handed over, or None."""
    name = f"{domain}\\{username}" if domain else username
    user = credentials._account_name(name)
    for account in credentials.accounts:
        if user is not None and account.username.lower() == user.lower() and account.password == password:
            return credentials.identity(account.username)
    return None
