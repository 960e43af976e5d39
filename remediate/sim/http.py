"""HTTP(S) for one simulated server: the transport WinRM uses.

One listening port serves both HTTP and HTTPS (the first byte of a connection tells a TLS
handshake from a request). `/wsman` is the WinRM service (Microsoft.PowerShell), and
`/PowerShell` is the Exchange endpoint (Microsoft.Exchange), which lives in IIS and is
unavailable while IIS is stopped.

Authentication is connection-bound, as with HTTP.sys: once NTLM/Negotiate completes on a
connection, later requests on it need no Authorization header. Over plain HTTP every SOAP
message must be sealed with WinRM message encryption; Basic is accepted over HTTPS only.
"""

from __future__ import annotations

import base64
import contextlib
import re
import socket
import socketserver
import ssl
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from spnego.exceptions import SpnegoError

from remediate.sim.audit import Counters
from remediate.sim.auth import (
    Credentials,
    Logon,
    acceptor,
    check_password,
    credssp_acceptor,
    delegated_kerberos,
)
from remediate.sim.engine import EXCHANGE_CONFIGURATION as EXCHANGE
from remediate.sim.faults import FaultBook
from remediate.sim.latency import wait
from remediate.sim.machine import Machine
from remediate.sim.scenario import Authentication
from remediate.sim.wsman import Endpoint, Fault, WSManService, endpoint_for, fault_envelope, parse_request
from remediate.support.logs import get_logger

log = get_logger(__name__)

MAX_BODY = 2 * 1024 * 1024
BOUNDARY = b"--Encrypted Boundary"
_LENGTH = re.compile(rb"Length=(\d+)")
_PROTOCOL = re.compile(r'protocol="([^"]+)"')


def reset(connection: socket.socket) -> None:
    """Close with RST: the client sees its connection reset, with no response."""
    with contextlib.suppress(OSError):
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        connection.close()


@dataclass
class ServerContext:
    """Everything one simulated server's HTTP listener needs."""

    machine: Machine
    service: WSManService
    credentials: Credentials
    counters: Counters
    faults: FaultBook
    tls: ssl.SSLContext
    channel_binding: bytes
    stopping: threading.Event
    authentication: Authentication = field(default_factory=Authentication)


class WinRMServer(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], context: ServerContext) -> None:
        self.context = context
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, WinRMHandler)

    @property
    def name(self) -> str:
        return self.context.machine.name

    def finish_request(self, request: Any, client_address: Any) -> None:
        context = self.context
        context.counters.connection(self.name)
        mode = context.faults.unreachable(self.name)
        if mode == "refuse":
            reset(request)
            return
        if mode == "blackhole":
            while context.faults.unreachable(self.name) == "blackhole" and not context.stopping.wait(0.2):
                pass
            reset(request)
            return
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request.settimeout(120)
        try:
            first = request.recv(1, socket.MSG_PEEK)
        except OSError:
            return
        is_tls = first == b"\x16"
        if is_tls:
            try:
                request = context.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as error:
                log.debug("tls handshake failed", server=self.name, error=str(error))
                return
        with self.connections_lock:
            self.connections.add(request)
        try:
            WinRMHandler(request, client_address, self, is_tls=is_tls)
        finally:
            with self.connections_lock:
                self.connections.discard(request)

    def shutdown_request(self, request: Any) -> None:
        with contextlib.suppress(OSError):
            super().shutdown_request(request)

    def handle_error(self, _request: Any, _client_address: Any) -> None:
        log.debug("connection error", server=self.name, exc_info=True)

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            reset(connection)


class WinRMHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    server: WinRMServer

    def __init__(self, request: Any, client_address: Any, server: WinRMServer, is_tls: bool = False) -> None:
        self.is_tls = is_tls
        self.auth_context: Any = None
        self.auth_scheme = ""  # the scheme of the context being built: negotiate or credssp
        self.logon: Logon | None = None
        self.configuration = ""  # of the request being handled
        super().__init__(request, client_address, server)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        log.debug("http", server=self.server.name, message=format % args)

    # -- responses -----------------------------------------------------------------------------

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    @property
    def identity(self) -> str | None:
        return self.logon.identity if self.logon is not None else None

    def _challenge(self, token: bytes | None = None, scheme: str = "Negotiate") -> None:
        """401 with the schemes this endpoint takes: /PowerShell only Negotiate (Kerberos
        inside: kerbauth); /wsman Negotiate, and over HTTPS Basic and (if enabled) CredSSP."""
        self.send_response(401)
        self.send_header(
            "WWW-Authenticate", scheme + (" " + base64.b64encode(token).decode() if token else "")
        )
        if token is None and self.is_tls and self.configuration != EXCHANGE:
            self.send_header("WWW-Authenticate", 'Basic realm="WSMAN"')
            if self.server.context.authentication.credssp:
                self.send_header("WWW-Authenticate", "CredSSP")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _drop(self) -> None:
        self.close_connection = True
        reset(self.connection)

    # -- requests ------------------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._read_body()
        self._send(405, headers={"Allow": "POST"})

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        context = self.server.context
        name = self.server.name
        context.counters.http_request(name)
        wait(context.machine.org.latency.round_trip_ms)  # the network, there and back
        body = self._read_body()
        if body is None:
            return
        if context.faults.drop_request(name):
            self._drop()
            return
        configuration = endpoint_for(self.path)
        if configuration is None:
            self._send(404)
            return
        if configuration == EXCHANGE and not context.machine.iis_running():
            self._send(503, b"Service Unavailable", {"Content-Type": "text/plain"})
            return
        self.configuration = configuration
        final_token = self._authenticate()
        if self.identity is None:
            return
        if not body:
            self._send(200, headers=self._token_header(final_token))
            return
        content_type = self.headers.get("Content-Type", "")
        encrypted = content_type.startswith("multipart/encrypted")
        if encrypted:
            try:
                body = self._unwrap(body)
            except (ValueError, SpnegoError, struct.error):
                context.counters.auth_failure(name)
                self._challenge()
                return
        elif not self.is_tls:
            # WinRM refuses unencrypted traffic over HTTP (AllowUnencrypted=false).
            context.counters.auth_failure(name)
            self._challenge()
            return
        self._respond(body, configuration, content_type if encrypted else None, final_token)

    def _respond(
        self, body: bytes, configuration: str, encrypted_type: str | None, token: bytes | None
    ) -> None:
        context = self.server.context
        scheme = "https" if self.is_tls else "http"
        url = f"{scheme}://{self.headers.get('Host', 'localhost')}{self.path}"
        endpoint = Endpoint(configuration, url)
        try:
            request = parse_request(body)
        except Fault as fault:
            payload, status = fault_envelope(fault, "", context.machine.state.fqdn), 500
        else:
            reply = context.service.handle(
                request, endpoint, self.identity or "", delegated=bool(self.logon and self.logon.delegated)
            )
            if reply.drop_connection:
                self._drop()
                return
            payload, status = reply.payload, reply.status
        headers = self._token_header(token)
        if encrypted_type is not None:
            protocol = _PROTOCOL.search(encrypted_type)
            payload = self._wrap(
                payload, protocol.group(1) if protocol else "application/HTTP-SPNEGO-session-encrypted"
            )
            headers["Content-Type"] = (
                f'multipart/encrypted;protocol="{protocol.group(1) if protocol else "application/HTTP-SPNEGO-session-encrypted"}"'
                ';boundary="Encrypted Boundary"'
            )
        else:
            headers["Content-Type"] = "application/soap+xml;charset=UTF-8"
        self._send(status, payload, headers)

    def _read_body(self) -> bytes | None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.close_connection = True
            self._send(413)
            return None
        return self.rfile.read(length) if length else b""

    def _token_header(self, token: bytes | None) -> dict[str, str]:
        scheme = "CredSSP" if self.auth_scheme == "credssp" else "Negotiate"
        return {"WWW-Authenticate": f"{scheme} " + base64.b64encode(token).decode()} if token else {}

    # -- authentication ---------------------------------------------------------------------------

    def _authenticate(self) -> bytes | None:
        """Authenticate the request; on failure send the 401 and leave `logon` unset."""
        context = self.server.context
        header = self.headers.get("Authorization")
        if not header:
            if self.logon is None:
                self._challenge()
            elif not self._allowed(self.logon.mechanism):
                self._refuse()
            return None
        scheme, _, value = header.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "basic":
            identity = context.credentials.check_basic(value.strip()) if self._allowed("basic") else None
            if identity is None:
                self._refuse()
            else:
                self.logon = Logon(identity, "basic")
            return None
        if scheme == "credssp" and self._allowed("credssp"):
            return self._credssp(value.strip())
        if scheme not in ("negotiate", "kerberos", "ntlm"):
            self._challenge()
            return None
        return self._negotiate(value.strip())

    def _allowed(self, mechanism: str) -> bool:
        """Whether this endpoint takes a logon of this kind."""
        settings = self.server.context.authentication
        if self.configuration == EXCHANGE:
            return mechanism in settings.exchange
        if mechanism in ("basic", "credssp"):
            return self.is_tls and (mechanism == "basic" or settings.credssp)
        return mechanism in ("ntlm", "kerberos")

    def _refuse(self) -> None:
        self.server.context.counters.auth_failure(self.server.name)
        self.logon = None
        self.auth_context = None
        self._challenge()

    def _step(self, scheme: str, value: str) -> tuple[bool, bytes | None]:
        """One token of a Negotiate or CredSSP exchange on this connection (a new context when
        none is under way for this scheme): (complete, the token to answer with). When not
        complete, the 401 (refusal, or the next challenge) has been sent."""
        context = self.server.context
        if self.auth_context is None or self.auth_context.complete or self.auth_scheme != scheme:
            self.logon = None
            self.auth_scheme = scheme
            self.auth_context = (
                credssp_acceptor()
                if scheme == "credssp"
                else acceptor(context.channel_binding if self.is_tls else None)
            )
        try:
            token = self.auth_context.step(base64.b64decode(value))
        except (SpnegoError, ValueError, struct.error):
            self._refuse()
            return False, None
        if not self.auth_context.complete:
            self._challenge(token or b"", scheme="CredSSP" if scheme == "credssp" else "Negotiate")
            return False, None
        return True, token

    def _negotiate(self, value: str) -> bytes | None:
        context = self.server.context
        complete, token = self._step("negotiate", value)
        if not complete:
            return None
        mechanism = str(self.auth_context.negotiated_protocol or "ntlm").lower()
        identity = context.credentials.normalise(str(self.auth_context.client_principal or ""))
        if identity is None or not self._allowed(mechanism):
            self._refuse()
            return None
        delegated = (
            mechanism == "kerberos"
            and context.authentication.kerberos_delegation
            and delegated_kerberos(self.auth_context)
        )
        self.logon = Logon(identity, mechanism, delegated)
        return token

    def _credssp(self, value: str) -> bytes | None:
        """CredSSP (MS-CSSP), over HTTPS only: the password handed over is checked, and the
        logon can make the second hop."""
        complete, token = self._step("credssp", value)
        if not complete:
            return None
        handed = self.auth_context.get_extra_info("client_credential")
        identity = None
        if handed is not None and hasattr(handed, "password"):
            identity = check_password(
                self.server.context.credentials, handed.domain_name, handed.username, handed.password
            )
        if identity is None:
            self._refuse()
            return None
        self.logon = Logon(identity, "credssp", delegated=True)
        return token

    # -- WinRM message encryption ----------------------------------------------------------------

    def _unwrap(self, body: bytes) -> bytes:
        if self.auth_context is None or not self.auth_context.complete:
            raise ValueError("no security context for encrypted message")
        parts = body.split(BOUNDARY + b"\r\n")
        if len(parts) < 3:
            raise ValueError("not a WinRM encrypted message")
        length = _LENGTH.search(parts[1])
        payload = parts[2]
        payload = payload[payload.index(b"\r\n") + 2 :]  # the octet-stream Content-Type line
        end = payload.rfind(BOUNDARY + b"--")
        if end != -1:
            payload = payload[:end]
        header_length = struct.unpack("<i", payload[:4])[0]
        header = payload[4 : 4 + header_length]
        data = self.auth_context.unwrap_winrm(header, payload[4 + header_length :])
        if length is None or int(length.group(1)) != len(data):
            raise ValueError("encrypted length mismatch")
        return bytes(data)

    def _wrap(self, payload: bytes, protocol: str) -> bytes:
        header, data, padding = self.auth_context.wrap_winrm(payload)
        return b"".join(
            [
                BOUNDARY + b"\r\n",
                f"\tContent-Type: {protocol}\r\n".encode(),
                f"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length={len(payload) + padding}\r\n".encode(),
                BOUNDARY + b"\r\n",
                b"\tContent-Type: application/octet-stream\r\n",
                struct.pack("<i", len(header)),
                header,
                data,
                BOUNDARY + b"--\r\n",
            ]
        )


def serve(server: WinRMServer) -> threading.Thread:
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.1},
        name=f"sim-{server.name}-http",
        daemon=True,
    )
    thread.start()
    return thread
