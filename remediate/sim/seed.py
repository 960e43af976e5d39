"""Build the initial state of a simulated organization from a scenario."""

from __future__ import annotations

import uuid
from importlib import resources
from typing import Any

from remediate.sim.latency import resolve as resolve_latency
from remediate.sim.scenario import Scenario, Server, WebConfig
from remediate.sim.store import now_iso
from remediate.sim.winpath import WinPath, parse

DEFAULT_PROFILES = "S2SAppActAs|S2SAppOnly|V1AppActAs|V1AppOnly|Callback|V1S2SActAs|CallbackV2"
FIXED_PROFILES = DEFAULT_PROFILES + "|V1S2SAppOnly"
REST_FRONTEND = "FrontEnd\\HttpProxy\\rest\\web.config"
REST_BACKEND = "ClientAccess\\rest\\web.config"

# name, display name, depends on. W3SVC needs WAS: restarting WAS stops W3SVC too.
SERVICES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("WAS", "Windows Process Activation Service", ()),
    ("W3SVC", "World Wide Web Publishing Service", ("WAS",)),
    ("WinRM", "Windows Remote Management (WS-Management)", ()),
    ("MSExchangeADTopology", "Microsoft Exchange Active Directory Topology", ()),
    ("MSExchangeServiceHost", "Microsoft Exchange Service Host", ("MSExchangeADTopology",)),
    ("MSExchangeIS", "Microsoft Exchange Information Store", ("MSExchangeADTopology",)),
    ("MSExchangeFrontEndTransport", "Microsoft Exchange Frontend Transport", ("MSExchangeADTopology",)),
)

APP_POOLS: tuple[str, ...] = (
    "DefaultAppPool",
    "MSExchangeAutodiscoverAppPool",
    "MSExchangeECPAppPool",
    "MSExchangeOWAAppPool",
    "MSExchangePowerShellAppPool",
    "MSExchangePowerShellFrontEndAppPool",
    "MSExchangeRestAppPool",
    "MSExchangeRestFrontEndAppPool",
    "MSExchangeServicesAppPool",
)

# Role entries on the Exchange endpoint (RBAC). Set-PartnerApplication's AppOnlyPermissions
# and IssuerIdentifier are "reserved for internal Microsoft use": no role exposes them unless
# the scenario says so.
ROLE_ENTRIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("View-Only Configuration", "Get-ExchangeServer", ("Identity", "DomainController", "Status", "Domain")),
    ("View-Only Configuration", "Get-OrganizationConfig", ("Identity", "DomainController")),
    ("View-Only Configuration", "Get-PartnerApplication", ("Identity", "DomainController", "Organization")),
    (
        "Role Management",
        "Get-ManagementRoleEntry",
        ("Identity", "DomainController", "Parameters", "PSSnapinName", "Type"),
    ),
    (
        "Role Management",
        "New-ManagementScope",
        ("Name", "RecipientRestrictionFilter", "RecipientRoot", "DomainController", "Confirm", "WhatIf"),
    ),
    ("Role Management", "Get-ManagementScope", ("Identity", "DomainController", "Exclusive", "Orphan")),
    ("Role Management", "Remove-ManagementScope", ("Identity", "DomainController", "Confirm", "WhatIf")),
    (
        "Organization Configuration",
        "New-SettingOverride",
        (
            "Name",
            "Component",
            "Section",
            "Parameters",
            "Reason",
            "Server",
            "DomainController",
            "Confirm",
            "WhatIf",
        ),
    ),
    ("View-Only Configuration", "Get-SettingOverride", ("Identity", "DomainController")),
    (
        "Organization Configuration",
        "Remove-SettingOverride",
        ("Identity", "DomainController", "Confirm", "WhatIf"),
    ),
    ("View-Only Configuration", "Get-ExchangeDiagnosticInfo", ("Process", "Component", "Argument", "Server")),
    (
        "Organization Configuration",
        "Set-PartnerApplication",
        (
            "Identity",
            "AcceptSecurityIdentifierInformation",
            "AccountType",
            "ActAsPermissions",
            "ApplicationIdentifier",
            "AuthMetadataUrl",
            "Confirm",
            "DomainController",
            "Enabled",
            "LinkedAccount",
            "Name",
            "Realm",
            "RefreshAuthMetadata",
            "TrustAnySSLCertificate",
            "WhatIf",
        ),
    ),
)


def _template(name: str) -> str:
    return resources.files("remediate.sim").joinpath("data", name).read_text(encoding="utf-8")


def rest_frontend_web_config(server: Server, spec: WebConfig) -> bytes:
    install = "%ExchangeInstallDir%" if spec.state == "unexpanded-install-dir" else server.install_path
    text = (
        _template("rest-frontend-web.config")
        .replace("@@PROFILES@@", FIXED_PROFILES if spec.state == "fixed" else DEFAULT_PROFILES)
        .replace("@@SERVER@@", server.name.upper())
        .replace("@@INSTALL@@", install)
    )
    return _encode(text, spec)


def rest_backend_web_config(server: Server) -> bytes:
    return _encode(
        _template("rest-backend-web.config").replace("@@INSTALL@@", server.install_path), WebConfig()
    )


def _encode(text: str, spec: WebConfig) -> bytes:
    if spec.line_endings == "crlf":
        text = text.replace("\n", "\r\n")
    return (b"\xef\xbb\xbf" if spec.bom else b"") + text.encode("utf-8")


def _registry(server: Server) -> dict[str, Any]:
    major, minor, build, revision = (int(part) for part in server.build.split("."))
    keys: dict[str, Any] = {}

    def add(path: str, values: dict[str, dict[str, Any]]) -> None:
        key = WinPath("Registry", path)
        current: WinPath | None = key
        while current is not None and not current.is_root:
            keys.setdefault(current.key, {"path": current.text, "values": {}})
            current = current.parent
        keys[key.key]["values"].update(values)

    add(
        "HKLM:\\SOFTWARE\\Microsoft\\ExchangeServer\\v15\\Setup",
        {
            "MsiInstallPath": {"kind": "String", "value": server.install_path},
            "MsiProductMajor": {"kind": "DWord", "value": major},
            "MsiProductMinor": {"kind": "DWord", "value": minor},
            "MsiBuildMajor": {"kind": "DWord", "value": build},
            "MsiBuildMinor": {"kind": "DWord", "value": revision},
        },
    )
    add("HKLM:\\SOFTWARE\\Microsoft\\ExchangeServer\\v15\\FrontendTransportRole", {})
    # Keys every Windows Server has (belief: the default layout; none of the TLS values below
    # them is set, and SCHANNEL's "TLS 1.2" key does not exist until someone configures it).
    add("HKLM:\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols", {})
    for node in ("HKLM:\\SOFTWARE\\Microsoft", "HKLM:\\SOFTWARE\\Wow6432Node\\Microsoft"):
        add(node + "\\.NETFramework\\v4.0.30319", {"SchUseStrongCrypto": {"kind": "DWord", "value": 0}})
        add(node + "\\.NETFramework\\v2.0.50727", {})
    for path, values in getattr(server, "registry", {}).items():
        add(
            path,
            {
                name: {"kind": "DWord" if isinstance(value, int) else "String", "value": value}
                for name, value in values.items()
            },
        )
    return keys


def _server_state(server: Server, organization_domain: str) -> dict[str, Any]:
    environment = {
        "ExchangeInstallPath": server.install_path,
        "COMPUTERNAME": server.name.upper(),
        "SystemRoot": "C:\\Windows",
        "windir": "C:\\Windows",
        "ProgramFiles": "C:\\Program Files",
        "ProgramData": "C:\\ProgramData",
        "TEMP": "C:\\Windows\\TEMP",
        **server.environment,
    }
    services = {
        name.lower(): {
            "name": name,
            "display_name": display,
            "status": "Running",
            "start_type": "Automatic",
            "depends_on": list(depends),
        }
        for name, display, depends in SERVICES
    }
    stopped = {name.lower() for name in server.stopped_app_pools}
    pools = {
        pool.lower(): {
            "name": pool,
            "state": "Stopped" if pool.lower() in stopped else "Started",
            "auto_start": pool.lower() not in stopped,
            "recycles": 0,
            "started": now_iso(),
        }
        for pool in APP_POOLS
    }
    return {
        "name": server.name,
        "fqdn": f"{server.name}.{organization_domain}".lower(),
        "build": server.build,
        "role": server.role,
        "install_path": server.install_path,
        "drives": ["C"],
        "environment": {name.lower(): {"name": name, "value": value} for name, value in environment.items()},
        "registry": _registry(server),
        "outlook_anywhere": {"ssl_offloading": getattr(server, "ssl_offloading", True)},
        "services": services,
        "app_pools": pools,
        "files": {},
        "dirs": {},
    }


def _server_files(server: Server) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    if server.rest_web_config.state != "missing":
        files[server.install_path + REST_FRONTEND] = rest_frontend_web_config(server, server.rest_web_config)
    files[server.install_path + REST_BACKEND] = rest_backend_web_config(server)
    files["C:\\ProgramData\\Microsoft\\Windows\\desktop.ini"] = b""
    files[server.install_path + "FrontEnd\\HttpProxy\\SharedWebConfig.config"] = _encode(
        '<?xml version="1.0" encoding="utf-8"?>\n<configuration />\n', WebConfig()
    )
    files["C:\\Windows\\System32\\inetsrv\\config\\applicationHost.config"] = application_host_config()
    for path, text in server.files.items():
        files[parse(path).text] = text.encode("utf-8")
    return files


# Exchange's virtual directories as IIS configures them (the location paths of Microsoft's
# HealthChecker test data E19_Exchange_IIS_applicationHost.config); which ones have a
# windowsAuthentication element with children and which an empty one follows that file too.
_LOCATIONS = (
    ("Default Web Site/API", False),
    ("Default Web Site/ecp", True),
    ("Default Web Site/EWS", True),
    ("Default Web Site/Autodiscover", True),
    ("Default Web Site/Microsoft-Server-ActiveSync", True),
    ("Default Web Site/Microsoft-Server-ActiveSync/Proxy", True),
    ("Default Web Site/OAB", True),
    ("Default Web Site/PowerShell", True),
    ("Default Web Site/owa", True),
    ("Default Web Site/Rpc", False),
    ("Default Web Site/mapi", False),
    ("Exchange Back End/API", False),
    ("Exchange Back End/ecp", True),
    ("Exchange Back End/EWS", True),
    ("Exchange Back End/Autodiscover", True),
    ("Exchange Back End/Microsoft-Server-ActiveSync", True),
    ("Exchange Back End/Microsoft-Server-ActiveSync/Proxy", True),
    ("Exchange Back End/OAB", True),
    ("Exchange Back End/PowerShell", True),
    ("Exchange Back End/owa", True),
    ("Exchange Back End/Rpc", False),
    ("Exchange Back End/RpcWithCert", False),
    ("Exchange Back End/PushNotifications", True),
    ("Exchange Back End/mapi/emsmdb", False),
    ("Exchange Back End/mapi/nspi", False),
)


def application_host_config() -> bytes:
    """A small applicationHost.config in the real one's structure and formatting (4-space
    indentation, CRLF, UTF-8 BOM): a location per Exchange virtual directory, Extended
    Protection not configured (the default after setup)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<configuration>"]
    for path, with_children in _LOCATIONS:
        lines += [
            f'    <location path="{path}">',
            "        <system.webServer>",
            "            <security>",
            "                <authentication>",
        ]
        if with_children:
            lines += [
                '                    <windowsAuthentication enabled="true">',
                "                        <providers>",
                "                            <clear />",
                '                            <add value="Negotiate" />',
                "                        </providers>",
                "                    </windowsAuthentication>",
            ]
        else:
            lines.append('                    <windowsAuthentication enabled="true" />')
        lines += [
            "                </authentication>",
            "            </security>",
            "        </system.webServer>",
            "    </location>",
        ]
    lines.append("</configuration>")
    return b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8") + b"\r\n"


def _partner_applications(scenario: Scenario) -> list[dict[str, Any]]:
    org = scenario.organization
    base_dn = "CN=Partner Applications,CN=Auth Configuration,CN={0},CN=Microsoft Exchange,CN=Services,CN=Configuration,{1}"
    domain_dn = ",".join(f"DC={part}" for part in org.domain.split("."))
    created = now_iso()
    apps = []
    for app in scenario.partner_applications:
        apps.append(
            {
                "Name": app.name,
                "ApplicationIdentifier": app.application_identifier,
                "Enabled": app.enabled,
                "AcceptSecurityIdentifierInformation": app.accept_security_identifier_information,
                "ActAsPermissions": app.act_as_permissions,
                "AppOnlyPermissions": app.app_only_permissions,
                "LinkedAccount": f"{org.domain}/Users/{app.linked_account}" if app.linked_account else None,
                "Realm": "",
                "AuthMetadataUrl": "",
                "UseAuthServer": True,
                "IssuerIdentifier": None,
                "AccountType": "OrganizationalAccount",
                "CertificateStrings": [],
                "Guid": str(uuid.uuid4()),
                "DistinguishedName": f"CN={app.name}," + base_dn.format(org.name, domain_dn),
                "WhenCreated": created,
                "WhenChanged": created,
            }
        )
    return apps


def _role_entries(scenario: Scenario) -> list[dict[str, Any]]:
    entries = []
    for role, cmdlet, parameters in ROLE_ENTRIES:
        granted = list(parameters)
        if cmdlet == "Set-PartnerApplication" and scenario.rbac.app_only_permissions:
            granted.append("AppOnlyPermissions")
        entries.append({"role": role, "name": cmdlet, "parameters": sorted(granted), "type": "Cmdlet"})
    return entries


def seed(scenario: Scenario) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, dict[str, bytes]]]:
    """The organization, the servers and their files, for `Store.save_new`."""
    servers = scenario.server_list()
    org = {
        "organization": scenario.organization.model_dump(),
        "servers": [server.name for server in servers],
        "partner_applications": _partner_applications(scenario),
        "role_entries": _role_entries(scenario),
        "multi_valued_shape": scenario.multi_valued_shape,
        "restart_seconds": scenario.restart_seconds,
        "latency": resolve_latency(scenario.latency).model_dump(),
        "scenario_digest": scenario.digest(),
    }
    states = [_server_state(server, scenario.organization.domain) for server in servers]
    files = {server.name: _server_files(server) for server in servers}
    return org, states, files
