"""Get-OutlookAnywhere: each server's Outlook Anywhere virtual directory, `Rpc (Default Web Site)`.

The one value remediate reads is SSLOffloading (Extended Protection's prerequisite: Microsoft's
ExchangeExtendedProtectionManagement.ps1 refuses a server where it is $true). Its default is
$true ("This value is the default", Microsoft Learn, Set-OutlookAnywhere -SSLOffloading), so a
seeded server has it on until the scenario says otherwise (`Server.ssl_offloading`).

Evidence: the parameters are Get-OutlookAnywhere's documented ones (Identity, Server,
ADPropertiesOnly, ShowMailboxVirtualDirectories, DomainController; Identity and Server in
different parameter sets). The type names follow the real Get-OwaVirtualDirectory capture
(CSS-Exchange, E19_Exchange_GetOwaVirtualDirectory.xml: ADOwaVirtualDirectory, then
ExchangeWebAppVirtualDirectory ... ConfigurableObject) with Outlook Anywhere's own class,
ADRpcHttpVirtualDirectory, directly under ExchangeVirtualDirectory (belief: no capture of
Get-OutlookAnywhere was seen). Its properties are the documented Set-OutlookAnywhere settings
and the virtual directory properties the OWA capture shows; the rest are not simulated. A
missing identity is Exchange's ManagementObjectNotFoundException, not terminating, as for
Get-PartnerApplication.
"""

from __future__ import annotations

import uuid
from typing import Any

from remediate.sim.cmdlets.exchange import NAMESPACE, _ad_object_id, _not_found
from remediate.sim.engine import Call, Cmdlet, Param
from remediate.sim.records import MultiValuedString, dotnet_object

NAME = "Rpc (Default Web Site)"
TYPES = [
    "Microsoft.Exchange.Data.Directory.SystemConfiguration.ADRpcHttpVirtualDirectory",
    "Microsoft.Exchange.Data.Directory.SystemConfiguration.ExchangeVirtualDirectory",
    "Microsoft.Exchange.Data.Directory.SystemConfiguration.ADVirtualDirectory",
    "Microsoft.Exchange.Data.Directory.SystemConfiguration.ADConfigurationObject",
    "Microsoft.Exchange.Data.Directory.ADObject",
    "Microsoft.Exchange.Data.Directory.ADRawEntry",
    "Microsoft.Exchange.Data.ConfigurableObject",
]


def _object(call: Call, server: Any) -> Any:
    org = call.machine.org.organization
    name = server.name.upper()
    settings = server.data.get("outlook_anywhere", {"ssl_offloading": True})
    domain_dn = ",".join(f"DC={part}" for part in org["domain"].split("."))
    server_dn = (
        f"CN={name},CN=Servers,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,"
        f"CN={org['name']},CN=Microsoft Exchange,CN=Services,CN=Configuration,{domain_dn}"
    )
    dn = f"CN={NAME},CN=HTTP,CN=Protocols,{server_dn}"
    identity = f"{name}\\{NAME}"
    return dotnet_object(
        TYPES,
        {
            "ServerName": name,
            "SSLOffloading": bool(settings["ssl_offloading"]),
            "ExternalHostname": None,
            "InternalHostname": server.fqdn,
            "ExternalClientAuthenticationMethod": "Negotiate",
            "InternalClientAuthenticationMethod": "Ntlm",
            "IISAuthenticationMethods": MultiValuedString(["Basic", "Ntlm", "Negotiate"]),
            "XropUrl": None,
            "ExternalClientsRequireSsl": False,
            "InternalClientsRequireSsl": False,
            "MetabasePath": f"IIS://{server.fqdn}/W3SVC/1/ROOT/Rpc",
            "Path": server.data["install_path"] + "FrontEnd\\HttpProxy\\rpc",
            "ExtendedProtectionTokenChecking": "None",
            "ExtendedProtectionFlags": MultiValuedString([]),
            "ExtendedProtectionSPNList": MultiValuedString([]),
            "Server": _ad_object_id(name, server_dn, name),
            "AdminDisplayName": None,
            "Name": NAME,
            "DistinguishedName": dn,
            "Identity": _ad_object_id(identity, dn, NAME),
            "Guid": str(uuid.uuid5(uuid.NAMESPACE_URL, dn)),
            "IsValid": True,
        },
        to_string=identity,
    )


def _get_outlook_anywhere(call: Call) -> None:
    identity = call.get("Identity")
    wanted_server = call.get("Server")
    servers = sorted(call.machine.peers.values(), key=lambda s: s.name.lower())
    if identity is not None:
        server_part, _, name = identity.rpartition("\\")
        found = [
            s
            for s in servers
            if name.lower() == NAME.lower() and server_part.lower() in (s.name.lower(), s.fqdn.lower())
        ]
        if not found:
            call.error(_not_found(call, identity, terminating=False))
            return
        servers = found
    elif wanted_server is not None:
        servers = [s for s in servers if wanted_server.lower() in (s.name.lower(), s.fqdn.lower())]
        if not servers:
            call.error(_not_found(call, wanted_server, terminating=False))
            return
    for server in servers:
        with server.lock:
            obj = _object(call, server)
        call.output(obj)


CMDLETS = (
    Cmdlet(
        "Get-OutlookAnywhere",
        f"{NAMESPACE}.GetRpcHttpVirtualDirectory",
        (
            Param("Identity", "string", position=0),
            Param("Server", "string"),
            Param("ADPropertiesOnly", "switch"),
            Param("ShowMailboxVirtualDirectories", "switch"),
            Param("DomainController", "string"),
        ),
        _get_outlook_anywhere,
        source="exchange",
        exclusive=(("Identity", "Server"),),
    ),
)
