"""Exchange setting overrides (New-, Get-, Remove-SettingOverride) and the variant
configuration refresh (Get-ExchangeDiagnosticInfo ... -Argument Refresh).

A setting override is an organization-wide AD object; Get-SettingOverride answers in the shape
of the real capture `E19_Exchange_GetSettingOverride.xml` (CSS-Exchange HealthChecker test
data): type names SettingOverride, ADConfigurationObject, ...; ComponentName, SectionName,
Parameters (a MultiValuedProperty of "Name=Value" strings), Reason, Server, Status (an enum
whose ToString is "Accepted"), Name. The refresh's output is belief (a result object per
server); remediate reads only that it did not fail.
"""

from __future__ import annotations

import uuid
from typing import Any

from remediate.sim.cmdlets.exchange import _exchange_error, _not_found
from remediate.sim.engine import Call, Cmdlet, Param
from remediate.sim.records import MultiValuedString, date_time, dotnet_object
from remediate.sim.store import now_iso

TYPES = [
    "Microsoft.Exchange.Data.Directory.SystemConfiguration.ConfigurationSettings.SettingOverride",
    "Microsoft.Exchange.Data.Directory.SystemConfiguration.ADConfigurationObject",
    "Microsoft.Exchange.Data.Directory.ADObject",
    "Microsoft.Exchange.Data.Directory.ADRawEntry",
    "Microsoft.Exchange.Data.ConfigurableObject",
]


def _overrides(call: Call) -> list[dict[str, Any]]:
    return call.machine.org.data.setdefault("setting_overrides", [])  # type: ignore[no-any-return]


def _find(call: Call, identity: str) -> dict[str, Any] | None:
    return next((o for o in _overrides(call) if o["Name"].lower() == str(identity).lower()), None)


def _object(override: dict[str, Any], org: dict[str, Any]) -> Any:
    """Every property the capture has, in its order (values plausible where not recorded)."""
    domain = org.get("domain", "contoso.lab")
    base = ",".join(f"DC={part}" for part in domain.split("."))
    dn = (
        f"CN={override['Name']},CN=Settings,CN=Global Settings,CN={org.get('name', 'Contoso')},"
        f"CN=Microsoft Exchange,CN=Services,CN=Configuration,{base}"
    )
    identity = dotnet_object(["Microsoft.Exchange.Data.Directory.ADObjectId"], to_string=override["Name"])
    xml_raw = (
        f'<S CN="{override["ComponentName"]}" SN="{override["SectionName"]}" MB="{override["ModifiedBy"]}" '
        f'R="{override["Reason"]}"><Ps>'
        + "".join(f"<P>{p}</P>" for p in override["Parameters"])
        + "</Ps></S>"
    )
    status = dotnet_object(
        [
            "Microsoft.Exchange.Data.Directory.SystemConfiguration.ConfigurationSettings.SettingOverrideStatus",
            "System.Enum",
            "System.ValueType",
        ],
        to_string="Accepted",
    )
    return dotnet_object(
        TYPES,
        {
            "ComponentName": override["ComponentName"],
            "SectionName": override["SectionName"],
            "AppId": "EXO",
            "FlightName": None,
            "ModifiedBy": override["ModifiedBy"],
            "Reason": override["Reason"],
            "MinVersion": None,
            "MaxVersion": None,
            "FixVersion": None,
            "Server": None,
            "IsFlight": False,
            "Parameters": MultiValuedString(list(override["Parameters"])),
            "Status": status,
            "XmlRaw": xml_raw,
            "AdminDisplayName": "",
            "ExchangeVersion": dotnet_object(
                ["Microsoft.Exchange.Data.ExchangeObjectVersion"], to_string="0.1 (8.0.535.0)"
            ),
            "Name": override["Name"],
            "DistinguishedName": dn,
            "Identity": identity,
            "Guid": override["Guid"],
            "ObjectCategory": dotnet_object(
                ["Microsoft.Exchange.Data.Directory.ADObjectId"],
                to_string=f"{domain}/Configuration/Schema/ms-Exch-Config-Settings",
            ),
            "ObjectClass": MultiValuedString(["top", "msExchConfigSettings"]),
            "WhenChanged": date_time(override["WhenCreated"]),
            "WhenCreated": date_time(override["WhenCreated"]),
            "WhenChangedUTC": date_time(override["WhenCreated"]),
            "WhenCreatedUTC": date_time(override["WhenCreated"]),
            "OrganizationId": dotnet_object(
                ["Microsoft.Exchange.Data.Directory.OrganizationId"], to_string=""
            ),
            "Id": identity,
            "OriginatingServer": f"dc01.{domain}",
            "IsValid": True,
            "ObjectState": dotnet_object(
                ["Microsoft.Exchange.Data.ObjectState", "System.Enum", "System.ValueType"],
                to_string="Unchanged",
            ),
        },
        to_string=override["Name"],
    )


def _new(call: Call) -> None:
    org = call.machine.org
    name = call.get("Name")
    with org.lock:
        if _find(call, name) is not None:
            raise _exchange_error(  # wording not verified
                call,
                f"The setting override '{name}' already exists.",
                "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
                "NotSpecified",
                terminating=True,
            )
        override = {
            "Name": name,
            "ComponentName": call.get("Component"),
            "SectionName": call.get("Section"),
            "Parameters": [str(p) for p in call.get("Parameters") or []],
            "Reason": call.get("Reason"),
            "ModifiedBy": call.session.user,
            "WhenCreated": now_iso(),
            "Guid": str(uuid.uuid4()),
        }
        _overrides(call).append(override)
        org.save()
    call.output(_object(override, org.organization))


def _get(call: Call) -> None:
    identity = call.get("Identity")
    with call.machine.org.lock:
        found = list(_overrides(call)) if identity is None else [o for o in [_find(call, identity)] if o]
    if identity is not None and not found:
        call.error(_not_found(call, identity, terminating=False))
        return
    for override in found:
        call.output(_object(override, call.machine.org.organization))


def _remove(call: Call) -> None:
    identity = call.get("Identity")
    org = call.machine.org
    with org.lock:
        found = _find(call, identity)
        if found is None:
            raise _not_found(call, identity, terminating=True)
        _overrides(call).remove(found)
        org.save()


def _diagnostic(call: Call) -> None:
    call.output(
        dotnet_object(
            ["Microsoft.Exchange.Management.Tasks.ExchangeDiagnosticInfoResult"],
            {
                "Server": call.machine.name,
                "Result": "<Diagnostics><Components><VariantConfiguration>Refreshed</VariantConfiguration></Components></Diagnostics>",
            },
        )
    )


CMDLETS = (
    Cmdlet(
        "New-SettingOverride",
        "Microsoft.Exchange.Management.SystemConfigurationTasks.NewSettingOverride",
        (
            Param("Name", "string", position=0, mandatory=True),
            Param("Component", "string", mandatory=True),
            Param("Section", "string", mandatory=True),
            Param("Parameters", "strings", mandatory=True),
            Param("Reason", "string", mandatory=True),
            Param("Server", "strings"),
            Param("MinVersion", "string"),
            Param("MaxVersion", "string"),
            Param("FixVersion", "string"),
            Param("DomainController", "string"),
        ),
        _new,
        source="exchange",
        should_process=True,
    ),
    Cmdlet(
        "Get-SettingOverride",
        "Microsoft.Exchange.Management.SystemConfigurationTasks.GetSettingOverride",
        (Param("Identity", "string", position=0), Param("DomainController", "string")),
        _get,
        source="exchange",
    ),
    Cmdlet(
        "Remove-SettingOverride",
        "Microsoft.Exchange.Management.SystemConfigurationTasks.RemoveSettingOverride",
        (Param("Identity", "string", position=0, mandatory=True), Param("DomainController", "string")),
        _remove,
        source="exchange",
        should_process=True,
    ),
    Cmdlet(
        "Get-ExchangeDiagnosticInfo",
        "Microsoft.Exchange.Management.Tasks.GetExchangeDiagnosticInfo",
        (
            Param("Process", "string"),
            Param("Component", "string"),
            Param("Argument", "string"),
            Param("Server", "string"),
        ),
        _diagnostic,
        source="exchange",
    ),
)
