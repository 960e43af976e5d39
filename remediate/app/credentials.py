"""Whom a command logs on as, and with what: a password (from a file only its owner can read,
a named environment variable, REMEDIATE_PASSWORD, or a prompt) or, with Kerberos, the
caller's ticket cache and no password at all.

Passwords are never taken from the command line or an inventory: an inventory names where a
server's password is (`password_file`, `password_env`), never the password itself.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Protocol

from remediate.support.errors import RemediateError
from remediate.support.logs import register_secret
from remediate.winrm.settings import Auth, Credentials, Logon, Secret


class Asker(Protocol):
    """How a use case gets what the options did not say (the CLI prompts; tests answer)."""

    def username(self) -> str: ...

    def given_password(self) -> str | None:
        """A password given without asking (REMEDIATE_PASSWORD), or None."""
        ...

    def password(self) -> str:
        """Ask for the password (fails without a terminal)."""
        ...


MAX_PASSWORD_FILE = 4096  # bytes: a password, not a document


def read_password_file(path: Path) -> str:
    """The password in `path` (one line), refused if anyone but its owner may read it. The
    checks are made on the file that is read (fstat of the open file), and at most
    MAX_PASSWORD_FILE bytes are read."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
        with os.fdopen(descriptor, "rb") as handle:
            status = os.fstat(handle.fileno())
            if not stat.S_ISREG(status.st_mode):
                raise OSError("not a regular file")
            if status.st_mode & 0o077:
                raise RemediateError(
                    "password-file-readable",
                    f"{path} can be read by others (mode {stat.filemode(status.st_mode)}): a password file "
                    "must be readable by its owner only",
                    f"chmod 600 {path}",
                )
            if status.st_uid != os.getuid():
                raise RemediateError(
                    "password-file-readable",
                    f"{path} belongs to another user: a password file must be yours",
                    "keep the password in a file of your own, mode 600",
                )
            data = handle.read(MAX_PASSWORD_FILE + 1)
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RemediateError(
            "password-file-unreadable",
            f"cannot read the password file {path}: {getattr(error, 'strerror', None) or error}",
            "check the path, and that the file holds UTF-8 text",
        ) from None
    password = text[:-1] if text.endswith("\n") else text
    password = password[:-1] if password.endswith("\r") else password
    if len(data) > MAX_PASSWORD_FILE or not password or any(ord(c) < 32 for c in password):
        raise RemediateError(
            "password-file-invalid",
            f"{path} must hold the password on one line (at most {MAX_PASSWORD_FILE} bytes, no control characters)",
            "write only the password",
        )
    return password


def _given(logon: Logon, asker: Asker) -> str | None:
    if logon.password_file is not None:
        return read_password_file(logon.password_file)
    if logon.password_env is not None:
        value = os.environ.get(logon.password_env)
        if not value:
            raise RemediateError(
                "password-missing",
                f"the environment variable {logon.password_env} named for the password is not set",
                f"set {logon.password_env}, or remove password_env from the inventory",
            )
        return value
    return asker.given_password()


def resolve(logon: Logon, auth: Auth, asker: Asker) -> Credentials:
    """The credentials to log on with.

    A password given (file, environment) is used as it is; with Kerberos remediate then gets
    its own ticket. Without one, `kerberos` (and `negotiate`, which prefers Kerberos) use the
    ticket cache when it holds a valid ticket (the principal becomes the username, for the
    journal); `kerberos` with no ticket fails here, before any connection. Otherwise the
    username and password are asked for."""
    password = _given(logon, asker)
    if password is not None:
        register_secret(password)
        return Credentials(logon.username or asker.username(), Secret(password))
    if auth in ("kerberos", "negotiate"):
        from remediate.winrm.kerberos import cached_principal

        principal = cached_principal(logon.username)
        if principal is not None:
            return Credentials(principal, None)
        if auth == "kerberos":
            who = f" for {logon.username}" if logon.username else ""
            raise RemediateError(
                "kerberos-no-ticket",
                f"--auth kerberos without a password needs a Kerberos ticket{who}, and the ticket cache "
                "holds none (or gssapi is not installed: pip install remediate[kerberos])",
                "get one with `kinit user@REALM` (klist shows what you hold), or give a password "
                "(REMEDIATE_PASSWORD or --password-file)",
            )
    username = logon.username or asker.username()
    password = asker.password()
    register_secret(password)
    return Credentials(username, Secret(password))
