"""pypsrp's and requests' failures as RemediateErrors that say what failed and what to try,
never carrying a password: refused logons, certificates, timeouts, WS-Management faults,
and Kerberos (no ticket, an unknown SPN, a clock apart)."""

from __future__ import annotations

from remediate.support.errors import RemediateError
from remediate.support.logs import mask_secrets
from remediate.winrm.settings import Connection, Endpoint, Server


def _describe(server: Server, connection: Connection, endpoint: Endpoint) -> str:
    if endpoint == "exchange" and connection.exchange == "remote":
        return f"{server.name} ({connection.transport}://{server.address}:{server.exchange_port_for(connection)}/{server.exchange_path})"
    return f"{server.name} ({connection.transport}://{server.address}:{server.port_for(connection)}/{server.path})"


def map_exception(
    error: BaseException, server: Server, connection: Connection, endpoint: Endpoint, username: str | None
) -> RemediateError:
    """A pypsrp or requests failure as a RemediateError (never carrying the password)."""
    import requests
    from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError

    where = _describe(server, connection, endpoint)
    kerberos = _kerberos_failure(error, server, connection, endpoint, where, username)
    if kerberos is not None:
        return kerberos
    if isinstance(error, AuthenticationError) and endpoint == "exchange" and connection.exchange == "remote":
        return RemediateError(
            "authentication-failed",
            f"{where} refused the logon of {username} ({connection.auth})",
            "Exchange's /PowerShell endpoint takes Kerberos only (as installed): use --auth kerberos, with a "
            "ticket (kinit) or a password, and --spn-hostname when you reach the server by address",
        )
    if isinstance(error, AuthenticationError):
        return RemediateError(
            "authentication-failed",
            f"{where} refused the logon of {username} ({connection.auth})",
            "check REMEDIATE_USERNAME and REMEDIATE_PASSWORD (DOMAIN\\user or user@domain), and that the account "
            "is a local administrator of the server",
        )
    if isinstance(error, requests.exceptions.SSLError):
        reason = "certificate" if "CERTIFICATE_VERIFY_FAILED" in str(error) else "TLS"
        return RemediateError(
            "certificate-untrusted" if reason == "certificate" else "tls-failed",
            f"{where}: the server's {reason} could not be verified",
            "pass the CA certificate that issued the server's certificate with --ca-file",
        )
    if isinstance(error, requests.exceptions.Timeout):
        return RemediateError(
            "host-timeout",
            f"{where} did not answer in time",
            "check that the server is up and that WinRM is reachable through firewalls; raise --timeout if it is slow",
        )
    if isinstance(error, requests.exceptions.ConnectionError):
        return RemediateError(
            "host-unreachable",
            f"cannot connect to {where}",
            "check the host name and port, that WinRM listens there (winrm quickconfig), and the firewall",
        )
    if isinstance(error, WSManFaultError):
        return RemediateError(
            "wsman-fault",
            f"{where} answered with a WS-Management fault {error.code}: {error.reason}",
            "for the Exchange endpoint, try --exchange snapin; otherwise check the WinRM configuration",
        )
    if isinstance(error, WinRMTransportError):
        hint = "check the endpoint path and that the service behind it is running"
        if error.code == 503:
            hint = "the Exchange endpoint lives in IIS: is IIS running on the server?"
        return RemediateError("endpoint-error", f"{where} answered HTTP {error.code}", hint)
    return RemediateError(
        "connection-failed",
        f"{where}: {mask_secrets(f'{type(error).__name__}: {error}')}",
        "run with -vv for details",
    )


def _kerberos_failure(
    error: BaseException,
    server: Server,
    connection: Connection,
    endpoint: Endpoint,
    where: str,
    username: str | None,
) -> RemediateError | None:
    """A Kerberos failure, named by what to do about it: no ticket, no such SPN, a clock
    apart, or no Kerberos library here. None when `error` is something else."""
    if connection.auth not in ("kerberos", "negotiate", "credssp"):
        return None
    text = str(error)
    lowered = text.lower()
    if isinstance(error, ImportError) or "gssapi" in lowered and "not available" in lowered:
        if connection.auth != "kerberos":
            return None
        return RemediateError(
            "kerberos-unavailable",
            f"{where}: Kerberos is not possible from here: {mask_secrets(text)}",
            "install remediate[kerberos] (it builds against MIT Kerberos: apt-get install libkrb5-dev), "
            "or use --auth negotiate",
        )
    if (
        "no kerberos credentials" in lowered
        or "no credentials cache" in lowered
        or "credential cache" in lowered
    ):
        who = f" for {username}" if username else ""
        return RemediateError(
            "kerberos-no-ticket",
            f"{where}: no Kerberos ticket{who} in the ticket cache, and no password was given",
            "get one with `kinit user@REALM` (klist shows what you hold), or give a password "
            "(REMEDIATE_PASSWORD or --password-file)",
        )
    if "not found in kerberos database" in lowered:
        remote = endpoint == "exchange" and connection.exchange == "remote"
        service = connection.spn_service or ("HTTP" if remote else "host")
        host = server.spn_hostname or server.address
        return RemediateError(
            "kerberos-spn-unknown",
            f"{where}: the KDC knows no service principal {service}/{host}",
            "name the server as Active Directory knows it: --spn-hostname (inventory: spn_hostname) when "
            "you reach it by address or alias, --spn-service for another service class (setspn -L <server>)",
        )
    if "clock skew" in lowered:
        return RemediateError(
            "kerberos-clock-skew",
            f"{where}: this machine's clock and the domain's are too far apart for Kerberos",
            "synchronise this machine's clock with the domain (chrony, or w32tm on Windows)",
        )
    return None
