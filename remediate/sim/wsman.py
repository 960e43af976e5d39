"""WS-Management (MS-WSMV) for PowerShell remoting: Create, Command, Send, Receive, Signal,
Delete and Get, with the SOAP faults WinRM answers with.

`WSManService` is one simulated server's WinRM service. It is transport-agnostic: the HTTP
layer hands it a parsed request and the endpoint it arrived on, and sends back what it
returns.
"""

from __future__ import annotations

import base64
import re
import threading
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from remediate.sim.audit import AuditTrail, Counters
from remediate.sim.engine import EXCHANGE_CONFIGURATION, SERVER_CONFIGURATION, Session
from remediate.sim.latency import wait
from remediate.sim.machine import Machine
from remediate.sim.psrp import PipelineSlot, ReceiveTimeout, Shell, ShellClosed
from remediate.support.logs import get_logger

log = get_logger(__name__)

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsa": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "wsman": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "wsmv": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "pwsh": "http://schemas.microsoft.com/powershell",
    "wst": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "cfg": "http://schemas.microsoft.com/wbem/wsman/1/config",
}
ACTION = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
SHELL_ACTION = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
POWERSHELL_URI = "http://schemas.microsoft.com/powershell/"
CONFIG_URI = "http://schemas.microsoft.com/wbem/wsman/1/config"
DONE = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"
RUNNING = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Running"
MAX_ENVELOPE_KB = 500
_DURATION = re.compile(r"^PT(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$")


class Fault(Exception):
    """A WS-Management fault, sent with HTTP 500."""

    def __init__(self, code: int, subcode: str, message: str, sender: bool = True) -> None:
        super().__init__(message)
        self.code = code
        self.subcode = subcode
        self.message = message
        self.sender = sender


def timed_out() -> Fault:
    return Fault(
        2150858793,
        "w:TimedOut",
        "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.",
        sender=False,
    )


def shell_not_found(shell_id: str) -> Fault:
    return Fault(
        2150858843,
        "w:InvalidSelectors",
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was not found "
        "on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer exists on "
        "the server. Provide the correct ShellId or create a new shell and retry the operation.",
    )


def resource_not_found(resource_uri: str) -> Fault:
    return Fault(
        2150858770,
        "w:DestinationUnreachable",
        f"The WS-Management service cannot process the request. The resource URI ({resource_uri}) was not found "
        "in the WS-Management catalog. The catalog contains the metadata that describes resources, or logical "
        "endpoints.",
    )


def invalid_request(message: str) -> Fault:
    # Not a Windows wording: for requests no WinRM client would send.
    return Fault(2150858817, "w:InvalidParameter", message)


@dataclass
class Request:
    action: str
    message_id: str
    resource_uri: str
    selectors: dict[str, str]
    options: dict[str, str]
    max_envelope: int
    operation_timeout: float
    body: ET.Element


@dataclass
class Reply:
    payload: bytes
    status: int = 200
    drop_connection: bool = False  # fault injection: reset instead of answering


def parse_request(data: bytes) -> Request:
    try:
        envelope = ET.fromstring(data)
    except ET.ParseError as error:
        raise invalid_request(f"The request is not well-formed XML: {error}") from None
    header = envelope.find("s:Header", NS)
    body = envelope.find("s:Body", NS)
    if header is None or body is None:
        raise invalid_request("The request is not a SOAP envelope.")

    def text(path: str) -> str:
        node = header.find(path, NS)
        return (node.text or "").strip() if node is not None else ""

    selectors = {
        n.get("Name", ""): n.text or "" for n in header.findall("wsman:SelectorSet/wsman:Selector", NS)
    }
    options = {n.get("Name", ""): n.text or "" for n in header.findall("wsman:OptionSet/wsman:Option", NS)}
    max_envelope = int(text("wsman:MaxEnvelopeSize") or 153600)
    return Request(
        action=text("wsa:Action"),
        message_id=text("wsa:MessageID"),
        resource_uri=text("wsman:ResourceURI"),
        selectors=selectors,
        options=options,
        max_envelope=max_envelope,
        operation_timeout=_duration(text("wsman:OperationTimeout")),
        body=body,
    )


def _duration(value: str) -> float:
    match = _DURATION.match(value or "")
    if not match:
        return 60.0
    minutes, seconds = match.groups()
    return float(minutes or 0) * 60 + float(seconds or 0)


def envelope(action: str, relates_to: str, body: str) -> bytes:
    return (
        '<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer" '
        'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
        'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" '
        'xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd">'
        f"<s:Header><a:Action>{action}</a:Action><a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo></s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def fault_envelope(fault: Fault, relates_to: str, machine: str) -> bytes:
    code = "s:Sender" if fault.sender else "s:Receiver"
    message = escape(fault.message)
    body = (
        f"<s:Fault><s:Code><s:Value>{code}</s:Value><s:Subcode><s:Value>{fault.subcode}</s:Value></s:Subcode>"
        f'</s:Code><s:Reason><s:Text xml:lang="en-US">{message} </s:Text></s:Reason><s:Detail>'
        f'<f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="{fault.code}" '
        f'Machine="{escape(machine)}"><f:Message>{message} </f:Message></f:WSManFault></s:Detail></s:Fault>'
    )
    return envelope(FAULT_ACTION, relates_to, body)


@dataclass(frozen=True)
class Endpoint:
    """Where a request arrived: the URL path decides the PowerShell configuration."""

    configuration: str
    url: str


@dataclass
class WSManService:
    machine: Machine
    audit: AuditTrail
    counters: Counters
    shells: dict[str, Shell] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.machine.on_iis_stop.append(self._break_exchange_shells)

    # -- dispatch ---------------------------------------------------------------------------------

    def handle(self, request: Request, endpoint: Endpoint, user: str, *, delegated: bool = False) -> Reply:
        """`delegated`: the logon carries credentials a second hop can use (CredSSP, or a
        delegated Kerberos ticket to a server trusted for delegation)."""
        self.counters.wsman_request(self.machine.name, request.action)
        try:
            return self._dispatch(request, endpoint, user, delegated)
        except Fault as fault:
            return Reply(fault_envelope(fault, request.message_id, self.machine.state.fqdn), status=500)

    def _dispatch(self, request: Request, endpoint: Endpoint, user: str, delegated: bool) -> Reply:
        action = request.action
        if action == ACTION + "Create":
            self._check_resource(request.resource_uri, endpoint)
            return self._create(request, endpoint, user, delegated)
        handlers = {
            ACTION + "Delete": self._delete,
            ACTION + "Get": self._get,
            SHELL_ACTION + "Command": self._command,
            SHELL_ACTION + "Send": self._send,
            SHELL_ACTION + "Receive": self._receive,
            SHELL_ACTION + "Signal": self._signal,
        }
        handler = handlers.get(action)
        if handler is None:
            raise Fault(
                2150858754,
                "w:ActionNotSupported",
                f"The WS-Management service does not support the specified action {action}.",
            )
        if action != ACTION + "Get":
            self._check_resource(request.resource_uri, endpoint)
        return handler(request)

    def _check_resource(self, resource_uri: str, endpoint: Endpoint) -> None:
        if resource_uri.lower() != (POWERSHELL_URI + endpoint.configuration).lower():
            raise resource_not_found(resource_uri)

    def _reply(self, request: Request, response_action: str, body: str) -> Reply:
        return Reply(envelope(response_action, request.message_id, body))

    def _shell(self, request: Request) -> Shell:
        shell_id = request.selectors.get("ShellId", "")
        with self.lock:
            shell = self.shells.get(shell_id.upper())
        if shell is None:
            raise shell_not_found(shell_id)
        return shell

    # -- actions ------------------------------------------------------------------------------

    def _create(self, request: Request, endpoint: Endpoint, user: str, delegated: bool) -> Reply:
        shell_node = request.body.find("rsp:Shell", NS)
        creation = request.body.find(".//pwsh:creationXml", NS)
        if shell_node is None or creation is None or not (creation.text or "").strip():
            raise invalid_request("A PowerShell shell needs rsp:Shell with creationXml.")
        shell_id = (shell_node.get("ShellId") or str(uuid.uuid4())).upper()
        latency = self.machine.org.latency
        wait(latency.runspace_open_ms)  # a host process and a runspace pool start
        if endpoint.configuration == EXCHANGE_CONFIGURATION:
            wait(latency.exchange_open_ms)  # Exchange builds the user's RBAC runspace
        session = Session(configuration=endpoint.configuration, user=user, delegated=delegated)
        shell = Shell(shell_id, request.resource_uri, session, self.machine, self.audit)
        try:
            shell.feed(base64.b64decode(creation.text or ""))
        except Exception as error:  # a malformed creationXml
            raise invalid_request(f"The PSRP creation data could not be processed: {error}") from None
        with self.lock:
            self.shells[shell_id] = shell
        streams_in = escape(shell_node.findtext("rsp:InputStreams", "stdin pr", NS))
        streams_out = escape(shell_node.findtext("rsp:OutputStreams", "stdout", NS))
        body = (
            "<x:ResourceCreated>"
            f"<a:Address>{escape(endpoint.url)}</a:Address>"
            f"<a:ReferenceParameters><w:ResourceURI>{escape(request.resource_uri)}</w:ResourceURI>"
            f'<w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet>'
            "</a:ReferenceParameters></x:ResourceCreated>"
            f"<rsp:Shell><rsp:ShellId>{shell_id}</rsp:ShellId>"
            f"<rsp:ResourceUri>{escape(request.resource_uri)}</rsp:ResourceUri>"
            f"<rsp:Owner>{escape(user)}</rsp:Owner><rsp:ClientIP>127.0.0.1</rsp:ClientIP>"
            "<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>"
            f"<rsp:InputStreams>{streams_in}</rsp:InputStreams><rsp:OutputStreams>{streams_out}</rsp:OutputStreams>"
            "<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime><rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity>"
            "</rsp:Shell>"
        )
        return self._reply(request, ACTION + "CreateResponse", body)

    def _delete(self, request: Request) -> Reply:
        """Delete a shell, from its own client or another of the same user (a client cleaning
        up after one that died). WinRM ends the shell's host process: what it runs is stopped,
        and the response comes once it has ended."""
        shell = self._shell(request)
        with self.lock:
            self.shells.pop(shell.id, None)
        shell.close("deleted")
        shell.wait_stopped(timeout=30.0)
        return self._reply(request, ACTION + "DeleteResponse", "")

    def _get(self, request: Request) -> Reply:
        if request.resource_uri.lower().rstrip("/") != CONFIG_URI:
            raise resource_not_found(request.resource_uri)
        body = (
            f'<cfg:Config xmlns:cfg="{NS["cfg"]}"><cfg:MaxEnvelopeSizekb>{MAX_ENVELOPE_KB}</cfg:MaxEnvelopeSizekb>'
            "<cfg:MaxTimeoutms>60000</cfg:MaxTimeoutms><cfg:MaxBatchItems>32000</cfg:MaxBatchItems>"
            "<cfg:MaxProviderRequests>4294967295</cfg:MaxProviderRequests></cfg:Config>"
        )
        return self._reply(request, ACTION + "GetResponse", body)

    def _command(self, request: Request) -> Reply:
        shell = self._shell(request)
        command_line = request.body.find("rsp:CommandLine", NS)
        if command_line is None:
            raise invalid_request("rsp:CommandLine is missing.")
        command_id = (command_line.get("CommandId") or str(uuid.uuid4())).upper()
        arguments = command_line.findtext("rsp:Arguments", "", NS)
        try:
            pipeline_id = uuid.UUID(command_id)
            shell.new_pipeline(pipeline_id)
            ready = shell.feed(base64.b64decode(arguments), pipeline_id)
        except ShellClosed:
            raise shell_not_found(shell.id) from None
        except Exception as error:
            raise invalid_request(f"The PSRP pipeline data could not be processed: {error}") from None
        reply = self._reply(
            request,
            SHELL_ACTION + "CommandResponse",
            f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>",
        )
        reply.drop_connection = self._start(shell, ready)
        return reply

    def _send(self, request: Request) -> Reply:
        shell = self._shell(request)
        ready: list[PipelineSlot] = []
        for stream in request.body.findall("rsp:Send/rsp:Stream", NS):
            command_id = stream.get("CommandId")
            pipeline_id = uuid.UUID(command_id) if command_id else None
            try:
                ready += shell.feed(base64.b64decode(stream.text or ""), pipeline_id)
            except ShellClosed:
                raise shell_not_found(shell.id) from None
            except Exception as error:
                raise invalid_request(f"The PSRP data could not be processed: {error}") from None
        reply = self._reply(request, SHELL_ACTION + "SendResponse", "<rsp:SendResponse/>")
        reply.drop_connection = self._start(shell, ready)
        return reply

    def _start(self, shell: Shell, ready: list[PipelineSlot]) -> bool:
        """Start pipelines that are fully received; True when a fault says to drop the request."""
        drop = False
        for slot in ready:
            commands = [
                (c.text, " ".join(str(value) for _, value in c.arguments))
                for c in slot.commands or []
                if not c.is_script
            ]
            when = self.machine.faults.drop_pipeline(self.machine.name, commands)
            if when == "before":
                shell.discard(slot)
                drop = True
                continue
            slot.drop_when_done = when == "after"
            shell.start(slot)
        return drop

    def _receive(self, request: Request) -> Reply:
        shell = self._shell(request)
        desired = request.body.find("rsp:Receive/rsp:DesiredStream", NS)
        command_id = desired.get("CommandId") if desired is not None else None
        pipeline_id = uuid.UUID(command_id) if command_id else None
        budget = max(4096, (min(request.max_envelope, MAX_ENVELOPE_KB * 1024) - 4096) * 3 // 4)
        timeout = max(0.5, min(request.operation_timeout, 60.0) - 0.5)
        try:
            chunks, done, slot = shell.receive(pipeline_id, timeout, budget)
        except ReceiveTimeout:
            raise timed_out() from None
        except ShellClosed:
            raise shell_not_found(shell.id) from None
        except KeyError:
            raise invalid_request(f"There is no command {command_id} in shell {shell.id}.") from None
        attribute = f' CommandId="{command_id.upper()}"' if command_id else ""
        streams = "".join(
            f'<rsp:Stream Name="stdout"{attribute}>{base64.b64encode(chunk).decode()}</rsp:Stream>'
            for chunk in chunks
        )
        state = ""
        if command_id:
            state = (
                f'<rsp:CommandState CommandId="{command_id.upper()}" State="{DONE if done else RUNNING}"/>'
            )
        reply = self._reply(
            request,
            SHELL_ACTION + "ReceiveResponse",
            f"<rsp:ReceiveResponse>{streams}{state}</rsp:ReceiveResponse>",
        )
        reply.drop_connection = bool(done and slot is not None and slot.drop_when_done)
        return reply

    def _signal(self, request: Request) -> Reply:
        shell = self._shell(request)
        signal = request.body.find("rsp:Signal", NS)
        command_id = signal.get("CommandId") if signal is not None else None
        if command_id:
            shell.signal(uuid.UUID(command_id))
        return self._reply(request, SHELL_ACTION + "SignalResponse", "<rsp:SignalResponse/>")

    # -- lifecycle --------------------------------------------------------------------------------

    def _break_exchange_shells(self) -> None:
        """IIS stopped: Exchange endpoint sessions (hosted in IIS) are gone."""
        with self.lock:
            doomed = [s for s in self.shells.values() if s.session.configuration == EXCHANGE_CONFIGURATION]
            for shell in doomed:
                del self.shells[shell.id]
        for shell in doomed:
            shell.close("IIS restarted")

    def close_all(self) -> None:
        with self.lock:
            shells = list(self.shells.values())
            self.shells.clear()
        for shell in shells:
            shell.close("simulator stopped")


ENDPOINTS: dict[str, str] = {"/wsman": SERVER_CONFIGURATION, "/powershell": EXCHANGE_CONFIGURATION}


def endpoint_for(path: str) -> str | None:
    """The configuration served at a URL path (IIS paths are case-insensitive)."""
    return ENDPOINTS.get(path.split("?", 1)[0].rstrip("/").lower() or "/")
