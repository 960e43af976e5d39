"""Exchange cmdlets: Get-ExchangeServer, Get-/Set-PartnerApplication, Get-ManagementRoleEntry,
and Add-PSSnapin, which brings them into a server-endpoint session without RBAC.

The organization is shared by every server: a change made through ex01 is seen from ex02.
Error ids follow Exchange's pattern (`<8 hex digits>,<cmdlet class>`, prefixed on the
Exchange endpoint with `[Server=...,RequestId=...,TimeStamp=...] [FailureCategory=...]`);
the hex digits are the simulator's own, not Exchange's.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import uuid
import zlib
from typing import Any

from remediate.sim.engine import EXCHANGE_CONFIGURATION, EXCHANGE_SNAPIN, Call, Cmdlet, Param
from remediate.sim.latency import wait
from remediate.sim.records import (
    MultiValuedString,
    ObjectState,
    PSError,
    ServerRole,
    StringArray,
    SupportedAccountType,
    date_time,
    dotnet_object,
)
from remediate.sim.store import now_iso

NAMESPACE = "Microsoft.Exchange.Management.SystemConfigurationTasks"
RBAC_NAMESPACE = "Microsoft.Exchange.Management.RbacTasks"
PARTNER_APP_TYPES = [
    "Microsoft.Exchange.Data.Directory.SystemConfiguration.PartnerApplication",
    "Microsoft.Exchange.Data.Directory.SystemConfiguration.ADConfigurationObject",
    "Microsoft.Exchange.Data.Directory.ADObject",
    "Microsoft.Exchange.Data.Directory.ADRawEntry",
    "Microsoft.Exchange.Data.ConfigurableObject",
]
SNAPINS = (EXCHANGE_SNAPIN, "Microsoft.Exchange.Management.PowerShell.Setup")


def _exchange_error(call: Call, message: str, exception: str, category: str, terminating: bool) -> PSError:
    short = exception.rsplit(".", 1)[-1]
    code = f"{zlib.crc32(f'{call.cmdlet.name}:{short}'.encode()):08X}"
    error_id = f"{code},{call.cmdlet.command_id}"
    if call.session.configuration == EXCHANGE_CONFIGURATION:
        stamp = dt.datetime.now().strftime("%-m/%-d/%Y %-I:%M:%S %p")
        error_id = (
            f"[Server={call.machine.name.upper()},RequestId={uuid.uuid4()},TimeStamp={stamp}] "
            f"[FailureCategory=Cmdlet-{short}] {error_id}"
        )
    return PSError(
        message, error_id, category=category, exception=exception, terminating=terminating, qualified=True
    )


def second_hop_error(call: Call) -> PSError:
    """An Exchange cmdlet of the snap-in, run in a WinRM session whose logon cannot reach
    Active Directory (the second hop). Belief, stated in docs/fidelity.md: Exchange wraps AD's
    LDAP operationsError for an unauthenticated bind (000004DC) in ADOperationException; the
    exact text was not seen from a real server. The stricter behaviour: every Exchange cmdlet
    of the snap-in fails, terminating, before it does anything."""
    dc = call.machine.org.organization["domain_controller"]
    return _exchange_error(
        call,
        f"Active Directory operation failed on {dc}. This error is not retriable. Additional information: "
        "An operations error occurred.\nActive directory response: 000004DC: LdapErr: DSID-0C090A5C, comment: "
        "In order to perform this operation a successful bind must be completed on the connection., data 0, "
        "v4563",
        "Microsoft.Exchange.Data.Directory.ADOperationException",
        "WriteError",
        True,
    )


def _not_found(call: Call, identity: str, terminating: bool) -> PSError:
    dc = call.machine.org.organization["domain_controller"]
    error = _exchange_error(
        call,
        f"The operation couldn't be performed because object '{identity}' couldn't be found on '{dc}'.",
        "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
        "NotSpecified",
        terminating,
    )
    error.target = identity
    return error


def _ad_object_id(canonical: str, dn: str, name: str, guid: str | None = None) -> Any:
    return dotnet_object(
        ["Microsoft.Exchange.Data.Directory.ADObjectId", "Microsoft.Exchange.Data.ObjectId"],
        {
            "Rdn": f"CN={name}",
            "DistinguishedName": dn,
            "ObjectGuid": uuid.UUID(guid) if guid else uuid.uuid5(uuid.NAMESPACE_URL, dn),
            "Name": name,
        },
        to_string=canonical,
    )


def _permissions(call: Call, values: list[str] | None) -> Any:
    if values is None:
        return None
    if call.machine.org.multi_valued_shape == "multi-valued-property":
        return MultiValuedString(values)
    return StringArray(values)


def partner_application_object(call: Call, app: dict[str, Any]) -> Any:
    org = call.machine.org.organization
    linked = app["LinkedAccount"]
    linked_id = None
    if linked:
        name = linked.rsplit("/", 1)[-1]
        domain_dn = ",".join(f"DC={part}" for part in org["domain"].split("."))
        linked_id = _ad_object_id(linked, f"CN={name},CN=Users,{domain_dn}", name)
    return dotnet_object(
        PARTNER_APP_TYPES,
        {
            "Enabled": app["Enabled"],
            "ApplicationIdentifier": app["ApplicationIdentifier"],
            "CertificateStrings": MultiValuedString(app["CertificateStrings"]),
            "AuthMetadataUrl": app["AuthMetadataUrl"],
            "Realm": app["Realm"],
            "UseAuthServer": app["UseAuthServer"],
            "AcceptSecurityIdentifierInformation": app["AcceptSecurityIdentifierInformation"],
            "LinkedAccount": linked_id,
            "DeploymentId": None,
            "IssuerIdentifier": app["IssuerIdentifier"],
            "AccountType": SupportedAccountType[app["AccountType"]],
            "AppOnlyPermissions": _permissions(call, app["AppOnlyPermissions"]),
            "ActAsPermissions": _permissions(call, app["ActAsPermissions"]),
            "AdminDisplayName": "",
            "ExchangeVersion": dotnet_object(
                ["Microsoft.Exchange.Data.ExchangeObjectVersion"], to_string="0.20 (15.0.0.0)"
            ),
            "Name": app["Name"],
            "DistinguishedName": app["DistinguishedName"],
            "Identity": _ad_object_id(app["Name"], app["DistinguishedName"], app["Name"], app["Guid"]),
            "Guid": uuid.UUID(app["Guid"]),
            "ObjectClass": MultiValuedString(["top", "msExchAuthPartnerApplication"]),
            "WhenChanged": date_time(app["WhenChanged"]),
            "WhenCreated": date_time(app["WhenCreated"]),
            "WhenChangedUTC": date_time(app["WhenChanged"]),
            "WhenCreatedUTC": date_time(app["WhenCreated"]),
            "ObjectCategory": f"{org['domain']}/Configuration/Schema/ms-Exch-Auth-Partner-Application",
            "OrganizationId": "",
            "Id": _ad_object_id(app["Name"], app["DistinguishedName"], app["Name"], app["Guid"]),
            "OriginatingServer": org["domain_controller"],
            "IsValid": True,
            "ObjectState": ObjectState.Unchanged,
        },
        to_string=app["Name"],
    )


def _find_apps(call: Call, identity: str | None, wildcards: bool) -> list[dict[str, Any]]:
    apps = call.machine.org.partner_applications()
    if identity is None:
        return list(apps)
    wanted = identity.lower()
    found = []
    for app in apps:
        keys = (
            app["Name"].lower(),
            app["ApplicationIdentifier"].lower(),
            app["Guid"].lower(),
            app["DistinguishedName"].lower(),
        )
        if wanted in keys or (
            wildcards and "*" in wanted and fnmatch.fnmatchcase(app["Name"].lower(), wanted)
        ):
            found.append(app)
    return found


def _get_partner_application(call: Call) -> None:
    org = call.machine.org
    identity = call.get("Identity")
    with org.lock:
        apps = _find_apps(call, identity, wildcards=True)
        objects = [partner_application_object(call, app) for app in apps]
    if identity is not None and not apps and "*" not in identity:
        call.error(_not_found(call, identity, terminating=False))
    for obj in objects:
        call.output(obj)


_SETTABLE = {
    "AppOnlyPermissions": "AppOnlyPermissions",
    "ActAsPermissions": "ActAsPermissions",
    "Enabled": "Enabled",
    "AcceptSecurityIdentifierInformation": "AcceptSecurityIdentifierInformation",
    "AccountType": "AccountType",
    "Name": "Name",
    "ApplicationIdentifier": "ApplicationIdentifier",
    "Realm": "Realm",
    "AuthMetadataUrl": "AuthMetadataUrl",
    "IssuerIdentifier": "IssuerIdentifier",
}


def _set_partner_application(call: Call) -> None:
    org = call.machine.org
    identity = call.get("Identity")
    with org.lock:
        apps = _find_apps(call, identity, wildcards=False)
        if not apps:
            raise _not_found(call, identity, terminating=True)
        if len(apps) > 1:
            raise _exchange_error(
                call,
                f"The operation couldn't be performed because '{identity}' matches multiple entries.",
                "Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException",
                "NotSpecified",
                True,
            )
        app = apps[0]
        changed = False
        for param, key in _SETTABLE.items():
            if not call.given(param):
                continue
            value = call.get(param)
            if key.endswith("Permissions"):
                value = list(value) if value else None
            if app[key] != value:
                app[key] = value
                changed = True
        if call.given("LinkedAccount"):
            value = call.get("LinkedAccount")
            linked = f"{org.organization['domain']}/Users/{value}" if value else None
            if app["LinkedAccount"] != linked:
                app["LinkedAccount"] = linked
                changed = True
        if changed:
            app["WhenChanged"] = now_iso()
            org.save()
    if not changed:
        call.warning(
            f"The command completed successfully but no settings of '{app['Name']}' have been modified."
        )


def _server_version(build: str) -> Any:
    major, minor, number, revision = (int(part) for part in build.split("."))
    return dotnet_object(
        ["Microsoft.Exchange.Data.ServerVersion"],
        {"Major": major, "Minor": minor, "Build": number, "Revision": revision},
        to_string=f"Version {major}.{minor} (Build {number}.{revision})",
    )


def _get_exchange_server(call: Call) -> None:
    org = call.machine.org.organization
    identity = call.get("Identity")
    servers = sorted(call.machine.peers.values(), key=lambda s: s.name.lower())
    if identity is not None:
        wanted = identity.lower()
        servers = [
            s
            for s in servers
            if wanted in (s.name.lower(), s.fqdn.lower())
            or ("*" in wanted and fnmatch.fnmatchcase(s.name.lower(), wanted))
        ]
        if not servers and "*" not in wanted:
            call.error(_not_found(call, identity, terminating=False))
            return
    domain_dn = ",".join(f"DC={part}" for part in org["domain"].split("."))
    for server in servers:
        name = server.name.upper()
        dn = (
            f"CN={name},CN=Servers,CN=Exchange Administrative Group (FYDIBOHF23SPDLT),CN=Administrative Groups,"
            f"CN={org['name']},CN=Microsoft Exchange,CN=Services,CN=Configuration,{domain_dn}"
        )
        call.output(_exchange_server_object(call, server, name, dn))


def _get_organization_config(call: Call) -> None:
    """The organization object (an AD read: the preflight's test of the Exchange access). Type
    names and the properties remediate reads, as in a real Exchange 2019 capture (CSS-Exchange,
    E19_Exchange_GetOrganizationConfig.xml); its other properties are not simulated."""
    org = call.machine.org.organization
    domain_dn = ",".join(f"DC={part}" for part in org["domain"].split("."))
    dn = f"CN={org['name']},CN=Microsoft Exchange,CN=Services,CN=Configuration,{domain_dn}"
    call.output(
        dotnet_object(
            [
                "Microsoft.Exchange.Data.Directory.Management.OrganizationConfig",
                "Microsoft.Exchange.Data.Directory.Management.ADPresentationObject",
                "Microsoft.Exchange.Data.Directory.ADObject",
                "Microsoft.Exchange.Data.Directory.ADRawEntry",
                "Microsoft.Exchange.Data.ConfigurableObject",
            ],
            {
                "Name": org["name"],
                "DistinguishedName": dn,
                "Identity": _ad_object_id(org["name"], dn, org["name"]),
                "Guid": str(uuid.uuid5(uuid.NAMESPACE_DNS, org["domain"])),
            },
            to_string=org["name"],
        )
    )


def _exchange_server_object(call: Call, server: Any, name: str, dn: str) -> Any:
    """Get-ExchangeServer's object: the type names and the 58 properties of a real Exchange 2019
    capture (CSS-Exchange, E19_Exchange_GetExchangeServer.xml); nested objects at remoting depth."""
    org = call.machine.org.organization
    domain = org["domain"]
    identity = _ad_object_id(name, dn, name)
    when = date_time("2024-01-15T09:00:00+00:00")
    return dotnet_object(
        [
            "Microsoft.Exchange.Data.Directory.Management.ExchangeServer",
            "Microsoft.Exchange.Data.Directory.Management.ADPresentationObject",
            "Microsoft.Exchange.Data.Directory.ADObject",
            "Microsoft.Exchange.Data.Directory.ADRawEntry",
            "Microsoft.Exchange.Data.ConfigurableObject",
        ],
        {
            "Name": name,
            "DataPath": server.data["install_path"] + "Mailbox",
            "Domain": domain,
            "Edition": "Standard",
            "ExchangeLegacyDN": f"/o={org['name']}/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration"
            f"/cn=Servers/cn={name}",
            "ExchangeLegacyServerRole": 0,
            "Fqdn": server.fqdn,
            "CustomerFeedbackEnabled": False,
            "InternetWebProxy": None,
            "InternetWebProxyBypassList": None,
            "IsHubTransportServer": True,
            "IsClientAccessServer": True,
            "IsExchange2007OrLater": True,
            "IsEdgeServer": False,
            "IsMailboxServer": True,
            "IsE14OrLater": True,
            "IsE15OrLater": True,
            "IsProvisionedServer": False,
            "IsUnifiedMessagingServer": False,
            "IsFrontendTransportServer": True,
            "NetworkAddress": StringArray([f"ncacn_ip_tcp:{server.fqdn}", f"ncacn_vns_spp:{name}"]),
            "OrganizationalUnit": f"{domain}/{name}",
            "AdminDisplayVersion": _server_version(server.build),
            "Site": f"{domain}/Configuration/Sites/Default-First-Site-Name",
            "ServerRole": ServerRole[server.data["role"]]
            if server.data["role"] in ServerRole.__members__
            else ServerRole.Mailbox,
            "ErrorReportingEnabled": False,
            "MitigationsEnabled": True,
            "StaticDomainControllers": MultiValuedString([]),
            "StaticGlobalCatalogs": MultiValuedString([]),
            "StaticConfigDomainController": "",
            "StaticExcludedDomainControllers": MultiValuedString([]),
            "MonitoringGroup": "",
            "CurrentDomainControllers": MultiValuedString([]),
            "CurrentGlobalCatalogs": MultiValuedString([]),
            "CurrentConfigDomainController": org["domain_controller"],
            "ProductID": "",
            "IsExchangeTrialEdition": False,
            "IsExpiredExchangeTrialEdition": False,
            "MailboxProvisioningAttributes": None,
            "RemainingTrialPeriod": "00:00:00",
            "MitigationsApplied": None,
            "MitigationsBlocked": None,
            "DataCollectionEnabled": False,
            "Identity": identity,
            "IsValid": True,
            "ExchangeVersion": "0.1 (8.0.535.0)",
            "DistinguishedName": dn,
            "Guid": uuid.uuid5(uuid.NAMESPACE_URL, dn),
            "ObjectCategory": f"{domain}/Configuration/Schema/ms-Exch-Exchange-Server",
            "ObjectClass": MultiValuedString(["top", "server", "msExchExchangeServer"]),
            "WhenChanged": when,
            "WhenCreated": when,
            "WhenChangedUTC": when,
            "WhenCreatedUTC": when,
            "OrganizationId": "",
            "Id": identity,
            "OriginatingServer": org["domain_controller"],
            "ObjectState": ObjectState.Unchanged,
        },
        to_string=name,
    )


def _role_entry_object(entry: dict[str, Any]) -> Any:
    return dotnet_object(
        ["Microsoft.Exchange.Data.Directory.Management.ExchangeRoleEntryPresentation"],
        {
            "Name": entry["name"],
            "Role": dotnet_object(["Microsoft.Exchange.Data.Directory.ADObjectId"], to_string=entry["role"]),
            "Parameters": MultiValuedString(entry["parameters"]),
            "Type": entry["type"],
            "PSSnapinName": "Microsoft.Exchange.Management.PowerShell.E2010",
            "Identity": f"{entry['role']}\\{entry['name']}",
        },
        to_string=f"{entry['role']}\\{entry['name']}",
    )


def _get_management_role_entry(call: Call) -> None:
    identity = call.get("Identity")
    role_pattern, _, entry_pattern = identity.rpartition("\\")
    role_pattern = role_pattern or "*"
    wanted_params = [p.lower() for p in call.get("Parameters") or []]
    types = [t.lower() for t in call.get("Type") or []]
    with call.machine.org.lock:
        entries = [
            entry
            for entry in call.machine.org.role_entries()
            if fnmatch.fnmatchcase(entry["role"].lower(), role_pattern.lower())
            and fnmatch.fnmatchcase(entry["name"].lower(), entry_pattern.lower())
            and (not types or entry["type"].lower() in types)
            and all(
                any(fnmatch.fnmatchcase(p.lower(), w) for p in entry["parameters"]) for w in wanted_params
            )
        ]
        objects = [_role_entry_object(entry) for entry in entries]
    if not objects:
        call.error(_not_found(call, identity, terminating=False))
    for obj in objects:
        call.output(obj)


def _add_pssnapin(call: Call) -> None:
    for name in call.get("Name"):
        matches = [s for s in SNAPINS if fnmatch.fnmatchcase(s.lower(), name.lower())]
        if not matches:
            if "*" not in name:
                call.error(
                    PSError(
                        f"The Windows PowerShell snap-in '{name}' is not installed on this computer.",
                        "AddPSSnapInRead",
                        category="InvalidArgument",
                        exception="System.Management.Automation.PSArgumentException",
                        target=name,
                    )
                )
            continue
        for snapin in matches:
            if snapin.lower() in call.session.snapins:
                call.error(
                    PSError(
                        f"Cannot add Windows PowerShell snap-in {snapin} because it is already added. Verify the "
                        "name of the snap-in, and then try again.",
                        "AddPSSnapInRead",
                        category="InvalidArgument",
                        exception="System.Management.Automation.PSArgumentException",
                        target=snapin,
                    )
                )
                continue
            if snapin == EXCHANGE_SNAPIN:
                wait(call.machine.org.latency.snapin_ms)  # loading Exchange's assemblies
            call.session.snapins.add(snapin.lower())
            if call.get("PassThru"):
                call.output(
                    dotnet_object(
                        ["System.Management.Automation.PSSnapInInfo"],
                        {
                            "Name": snapin,
                            "IsDefault": False,
                            "PSVersion": "1.0",
                            "Description": "Admin Tasks",
                        },
                        to_string=snapin,
                    )
                )


# -- RBAC management scopes (New-, Get-, Remove-ManagementScope) ------------------------------------


def _scope_object(call: Call, scope: dict[str, Any]) -> Any:
    org = call.machine.org.organization
    domain_dn = ",".join(f"DC={part}" for part in org["domain"].split("."))
    dn = (
        f"CN={scope['Name']},CN=Scopes,CN=RBAC,CN={org['name']},CN=Microsoft Exchange,CN=Services,"
        f"CN=Configuration,{domain_dn}"
    )
    return dotnet_object(
        [
            "Microsoft.Exchange.Data.Directory.SystemConfiguration.ManagementScope",
            "Microsoft.Exchange.Data.Directory.ADConfigurationObject",
            "Microsoft.Exchange.Data.Directory.ADObject",
            "Microsoft.Exchange.Data.Directory.ADRawEntry",
            "Microsoft.Exchange.Data.ConfigurableObject",
        ],
        {
            "Name": scope["Name"],
            "ScopeRestrictionType": "RecipientScope",
            "Exclusive": False,
            "RecipientRoot": None,
            "RecipientFilter": scope["RecipientFilter"],
            "ServerFilter": None,
            "DatabaseFilter": None,
            "DistinguishedName": dn,
            "Identity": _ad_object_id(scope["Name"], dn, scope["Name"]),
            "WhenChanged": date_time(scope["WhenCreated"]),
            "WhenCreated": date_time(scope["WhenCreated"]),
        },
        to_string=scope["Name"],
    )


def _find_scope(call: Call, identity: str) -> dict[str, Any] | None:
    return next(
        (s for s in call.machine.org.management_scopes() if s["Name"].lower() == identity.lower()), None
    )


def _new_management_scope(call: Call) -> None:
    name = call.get("Name")
    org = call.machine.org
    with org.lock:
        if _find_scope(call, name) is not None:
            # Exchange refuses a second object of the same name in the RBAC scopes container;
            # the exact wording is not verified.
            raise _exchange_error(
                call,
                f"The management scope '{name}' already exists.",
                "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
                "NotSpecified",
                terminating=True,
            )
        scope = {
            "Name": name,
            "RecipientFilter": call.get("RecipientRestrictionFilter"),
            "WhenCreated": now_iso(),
        }
        org.management_scopes().append(scope)
        org.save()
        call.output(_scope_object(call, scope))


def _get_management_scope(call: Call) -> None:
    identity = call.get("Identity")
    with call.machine.org.lock:
        scopes = list(call.machine.org.management_scopes())
    if identity is None:
        for scope in scopes:
            call.output(_scope_object(call, scope))
        return
    found = _find_scope(call, identity)
    if found is None:
        call.error(_not_found(call, identity, terminating=False))
        return
    call.output(_scope_object(call, found))


def _remove_management_scope(call: Call) -> None:
    identity = call.get("Identity")
    org = call.machine.org
    with org.lock:
        scope = _find_scope(call, identity)
        if scope is None:
            raise _not_found(call, identity, terminating=True)
        org.management_scopes().remove(scope)
        org.save()


_DC = Param("DomainController", "string")
_IDENTITY = Param("Identity", "string", position=0)
CMDLETS = (
    Cmdlet(
        "Add-PSSnapin",
        "Microsoft.PowerShell.Commands.AddPSSnapinCommand",
        (Param("Name", "strings", position=0, mandatory=True), Param("PassThru", "switch")),
        _add_pssnapin,
    ),
    Cmdlet(
        "Get-OrganizationConfig",
        f"{NAMESPACE}.GetOrganizationConfig",
        (Param("Identity", "string", position=0), _DC),
        _get_organization_config,
        source="exchange",
    ),
    Cmdlet(
        "Get-ExchangeServer",
        f"{NAMESPACE}.GetExchangeServer",
        (_IDENTITY, _DC, Param("Domain", "string"), Param("Status", "switch")),
        _get_exchange_server,
        source="exchange",
    ),
    Cmdlet(
        "Get-PartnerApplication",
        f"{NAMESPACE}.GetPartnerApplication",
        (_IDENTITY, _DC, Param("Organization", "string")),
        _get_partner_application,
        source="exchange",
    ),
    Cmdlet(
        "Set-PartnerApplication",
        f"{NAMESPACE}.SetPartnerApplication",
        (
            Param("Identity", "string", position=0, mandatory=True),
            Param("AppOnlyPermissions", "strings"),
            Param("ActAsPermissions", "strings"),
            Param("Enabled", "bool"),
            Param("LinkedAccount", "string"),
            Param("AcceptSecurityIdentifierInformation", "bool"),
            Param(
                "AccountType",
                "enum",
                choices=("OrganizationalAccount", "ConsumerAccount"),
                type_name="Microsoft.Exchange.Data.Directory.SystemConfiguration.SupportedAccountType",
            ),
            Param("Name", "string"),
            Param("ApplicationIdentifier", "string"),
            Param("Realm", "string"),
            Param("AuthMetadataUrl", "string"),
            Param("TrustAnySSLCertificate", "switch"),
            Param("RefreshAuthMetadata", "switch"),
            Param("IssuerIdentifier", "string"),
            _DC,
        ),
        _set_partner_application,
        source="exchange",
        should_process=True,
        exclusive=(
            ("ApplicationIdentifier", "AuthMetadataUrl", "RefreshAuthMetadata"),
            ("Realm", "AuthMetadataUrl", "RefreshAuthMetadata"),
        ),
    ),
    Cmdlet(
        "New-ManagementScope",
        f"{RBAC_NAMESPACE}.NewManagementScope",
        (
            Param("Name", "string", position=0, mandatory=True),
            Param("RecipientRestrictionFilter", "string", mandatory=True),
            Param("RecipientRoot", "string"),
            _DC,
        ),
        _new_management_scope,
        source="exchange",
        should_process=True,
    ),
    Cmdlet(
        "Get-ManagementScope",
        f"{RBAC_NAMESPACE}.GetManagementScope",
        (_IDENTITY, _DC, Param("Exclusive", "bool"), Param("Orphan", "switch")),
        _get_management_scope,
        source="exchange",
    ),
    Cmdlet(
        "Remove-ManagementScope",
        f"{RBAC_NAMESPACE}.RemoveManagementScope",
        (Param("Identity", "string", position=0, mandatory=True), _DC),
        _remove_management_scope,
        source="exchange",
        should_process=True,
    ),
    Cmdlet(
        "Get-ManagementRoleEntry",
        f"{RBAC_NAMESPACE}.GetManagementRoleEntry",
        (
            Param("Identity", "string", position=0, mandatory=True),
            Param("Parameters", "strings"),
            Param("PSSnapinName", "string"),
            Param(
                "Type",
                "enums",
                choices=("Cmdlet", "Script", "ApplicationPermission", "WebService"),
                type_name="Microsoft.Exchange.Data.Directory.SystemConfiguration.ManagementRoleEntryType[]",
            ),
            _DC,
        ),
        _get_management_role_entry,
        source="exchange",
    ),
)
