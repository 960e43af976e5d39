"""How to reach servers, defined once: which server (`--host`, an inventory entry), which
transport, authentication and timeouts, and as whom. Pure data: nothing here connects.
The CLI's options, an inventory's keys, the journal and saved plans all map onto these."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from remediate.support.errors import RemediateError

Transport = Literal["https", "http"]
Auth = Literal["negotiate", "ntlm", "kerberos", "basic", "credssp"]
ExchangeAccess = Literal["snapin", "remote"]
Endpoint = Literal["server", "exchange"]
EXCHANGE_SNAPIN = "Microsoft.Exchange.Management.PowerShell.SnapIn"


# Failures of the connection itself (as opposed to a command's): after one, a pool is not
# trusted again: NTLM is bound to the TCP connection, and pypsrp cannot resume a broken one.
CONNECTION_ERRORS = frozenset(
    {"host-unreachable", "host-timeout", "connection-failed", "endpoint-error", "wsman-fault", "tls-failed"}
)


class Secret(str):
    """A password: never shown by repr, str formatting in logs, or a traceback's locals."""

    def __repr__(self) -> str:
        return "Secret('***')"


@dataclass(frozen=True)
class Credentials:
    """Who logs on. Without a password (Kerberos), the caller's ticket cache is used: the
    ticket of `username` if given, else the cache's default principal."""

    username: str | None
    password: Secret | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Logon:
    """Who, and where the password is (never the password): the command line's, or one
    inventory entry's. `app.credentials.resolve` turns it into Credentials."""

    username: str | None = None
    password_file: Path | None = None
    password_env: str | None = None


@dataclass(frozen=True)
class Connection:
    """How to reach servers: shared by every server of a run unless overridden."""

    transport: Transport = "https"
    auth: Auth = "negotiate"
    ca_file: Path | None = None
    exchange: ExchangeAccess = "snapin"
    timeout: int = 60  # one cmdlet call, start to end (and one HTTP request)
    connect_timeout: int = 15  # opening a TCP connection
    restart_timeout: int = 300  # one Restart-Service or Restart-WebAppPool call
    insecure: bool = False  # do not verify the server certificate (https)
    # Kerberos: the service part of the servers' SPN (pypsrp's default: host, which Active
    # Directory maps to HTTP and WSMAN), and whether the ticket may be delegated onwards
    # (the second hop; the server's account must also be trusted for delegation in AD)
    spn_service: str | None = None
    delegate: bool = False

    def overridden(self, **values: Any) -> Connection:
        """This connection with the settings given (None: keep this one's), checked again."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TypeError(f"not connection settings: {', '.join(unknown)}")
        return replace(self, **{key: value for key, value in values.items() if value is not None})

    def __post_init__(self) -> None:
        if self.auth == "basic" and self.transport != "https":
            raise RemediateError(
                "basic-over-http",
                "Basic authentication sends the password in the clear; remediate uses it over HTTPS only",
                "use --transport https, or --auth negotiate (HTTP is then encrypted with the session key)",
            )
        if self.auth == "credssp" and self.transport != "https":
            raise RemediateError(
                "credssp-over-http",
                "CredSSP hands your password to the server; remediate uses it over HTTPS only, where the "
                "server is authenticated by its certificate first",
                "use --transport https (with --ca-file), or --auth kerberos with delegation",
            )
        if self.delegate and self.auth not in ("kerberos", "negotiate"):
            raise RemediateError(
                "delegate-needs-kerberos",
                f"--kerberos-delegate delegates a Kerberos ticket; --auth {self.auth} has none",
                "use --auth kerberos (or negotiate), or --auth credssp for the second hop",
            )
        if self.insecure and self.transport != "https":
            raise RemediateError(
                "insecure-over-http",
                "--insecure turns off certificate checks, which only https has",
                "drop --insecure (http is always encrypted with the logon session key)",
            )


@dataclass(frozen=True)
class Server:
    """One server to connect to."""

    name: str  # as the user named it (or the simulator's server name)
    address: str
    port: int | None = None  # default: 5986 for https, 5985 for http
    path: str = "wsman"
    exchange_port: int | None = None  # the Exchange endpoint (/PowerShell); default: 443/80
    exchange_path: str = "PowerShell"
    # Kerberos: the host name in the server's SPN, when it is reached by an address or an
    # alias that is not its name in Active Directory (a load balancer, 10.0.0.5)
    spn_hostname: str | None = None

    def port_for(self, connection: Connection) -> int:
        return self.port or (5986 if connection.transport == "https" else 5985)

    def exchange_port_for(self, connection: Connection) -> int:
        return self.exchange_port or (443 if connection.transport == "https" else 80)


_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*$"
)


def _invalid(text: str, why: str) -> RemediateError:
    return RemediateError(
        "host-invalid",
        f"--host {text!r}: {why}",
        "give host[:port][/path], e.g. ex01.contoso.lab:5986 or 10.0.0.5",
    )


def parse_host(text: str) -> Server:
    value = text.strip()
    if "://" in value:
        raise _invalid(text, "a URL is not a host (the scheme comes from --transport)")
    address, _, path = value.partition("/")
    port_text = None
    if address.startswith("["):
        address, _, rest = address[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise _invalid(text, "expected :port after the IPv6 address")
            port_text = rest[1:]
    elif address.count(":") == 1:
        address, port_text = address.split(":")
    try:
        ipaddress.ip_address(address)
    except ValueError:
        if not _HOSTNAME.match(address):
            raise _invalid(text, "not a host name or IP address") from None
    port = None
    if port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise _invalid(text, f"{port_text!r} is not a port")
        port = int(port_text)
    return Server(name=value.split("/")[0], address=address, port=port, path=path or "wsman")


def connection_meta(connection: Connection) -> dict[str, Any]:
    return {
        "transport": connection.transport,
        "auth": connection.auth,
        "exchange": connection.exchange,
        "ca_file": str(connection.ca_file) if connection.ca_file else None,
        "insecure": connection.insecure,
        "timeout": connection.timeout,
        "connect_timeout": connection.connect_timeout,
        "restart_timeout": connection.restart_timeout,
        "spn_service": connection.spn_service,
        "delegate": connection.delegate,
    }


def connection_from_meta(meta: dict[str, Any], ca_file: Path | None = None) -> Connection:
    recorded = meta.get("ca_file")
    return Connection(
        transport=meta["transport"],
        auth=meta["auth"],
        exchange=meta["exchange"],
        ca_file=ca_file or (Path(recorded) if recorded else None),
        # journals written before the settings were defined once call it "operation_timeout"
        timeout=meta.get("timeout", meta.get("operation_timeout", 60)),
        connect_timeout=meta.get("connect_timeout", 15),
        restart_timeout=meta.get("restart_timeout", 300),
        insecure=bool(meta.get("insecure", False)),
        spn_service=meta.get("spn_service"),
        delegate=bool(meta.get("delegate", False)),
    )
