"""Scenarios: what a simulated Exchange organization looks like when it is first created.

A scenario is a YAML (or JSON) file; every key has a default, so an empty file is the
default organization: hybrid Exchange 2019 CU15, one server, the REST front-end web.config
in its default shape, and the `Microsoft Graph` partner application with its 29
ActAsPermissions and no AppOnlyPermissions.

A scenario seeds a state directory once. After that the state directory is the truth.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from remediate.sim.faults import Fault
from remediate.sim.latency import Latency
from remediate.support.errors import RemediateError

# The Microsoft Graph partner application's ActAsPermissions in a real Exchange 2019 lab.
GRAPH_ACT_AS_PERMISSIONS: tuple[str, ...] = (
    "Mail.Read",
    "Mail.Write",
    "Mail.Send",
    "Calendars.Read",
    "Calendars.ReadWrite",
    "Calendars.Read.Shared",
    "Calendars.ReadWrite.Shared",
    "Contacts.Read",
    "Contacts.ReadWrite",
    "Contacts.Read.Shared",
    "Contacts.ReadWrite.Shared",
    "Mail.ReadWrite",
    "Calendars.Write",
    "Contacts.Write",
    "Sites.Read.All",
    "Sites.ReadWrite.All",
    "User.Read",
    "User.ReadWrite",
    "User.ReadBasic.All",
    "User.Read.All",
    "User.ReadWrite.All",
    "Group.Read.All",
    "Group.ReadWrite.All",
    "People.Read",
    "People.ReadWrite",
    "MailboxSettings.ReadWrite",
    "Privilege.SkipClientAccessRules",
    "Tasks.Read",
    "Tasks.ReadWrite",
)

DEFAULT_INSTALL_PATH = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\"
EXCHANGE_2019_CU15 = "15.2.1748.10"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Credential(_Model):
    username: str = "administrator"
    # Generated (and stored owner-only in the state directory) when not given.
    password: str | None = None


class Organization(_Model):
    name: str = "Contoso"
    domain: str = "contoso.lab"
    netbios: str = "CONTOSO"
    domain_controller: str = "dc01.contoso.lab"


class WebConfig(_Model):
    """The REST front-end web.config (FrontEnd\\HttpProxy\\rest\\web.config)."""

    # default: as installed; fixed: V1S2SAppOnly already in OAuthHttpModule.Profiles;
    # missing: no file; unexpanded-install-dir: the literal %ExchangeInstallDir% left by a failed update.
    state: Literal["default", "fixed", "missing", "unexpanded-install-dir"] = "default"
    line_endings: Literal["crlf", "lf"] = "crlf"
    bom: bool = True


class ServerDefaults(_Model):
    build: str = EXCHANGE_2019_CU15
    install_path: str = DEFAULT_INSTALL_PATH
    role: str = "Mailbox"
    rest_web_config: WebConfig = Field(default_factory=WebConfig)
    # App pools an administrator stopped in IIS Manager: Stopped, with autoStart false, so an
    # IIS restart leaves them stopped.
    stopped_app_pools: list[str] = Field(default_factory=list)

    @field_validator("install_path")
    @classmethod
    def _trailing_backslash(cls, value: str) -> str:
        return value if value.endswith("\\") else value + "\\"

    @field_validator("build")
    @classmethod
    def _four_part_build(cls, value: str) -> str:
        parts = value.split(".")
        if len(parts) != 4 or not all(part.isdigit() for part in parts):
            raise ValueError("an Exchange build has four numbers, like 15.2.1748.10")
        return value


class Server(ServerDefaults):
    name: str
    # Extra files: Windows path -> UTF-8 text.
    files: dict[str, str] = Field(default_factory=dict)
    environment: dict[str, str] = Field(default_factory=dict)
    # Extra registry values: key (HKLM:\\...) -> name -> a DWord (int) or a String (str).
    registry: dict[str, dict[str, int | str]] = Field(default_factory=dict)
    # Outlook Anywhere's SSLOffloading: $true is Exchange's documented default.
    ssl_offloading: bool = True


class PartnerApplication(_Model):
    name: str
    application_identifier: str
    enabled: bool = True
    accept_security_identifier_information: bool = False
    act_as_permissions: list[str] | None = None
    app_only_permissions: list[str] | None = None
    linked_account: str | None = None


def _default_partner_applications() -> list[PartnerApplication]:
    return [
        PartnerApplication(
            name="Exchange Online",
            application_identifier="00000002-0000-0ff1-ce00-000000000000",
            linked_account="Exchange Online-ApplicationAccount",
        ),
        PartnerApplication(
            name="Microsoft Graph",
            application_identifier="00000003-0000-0000-c000-000000000000",
            accept_security_identifier_information=True,
            act_as_permissions=list(GRAPH_ACT_AS_PERMISSIONS),
        ),
        PartnerApplication(
            name="TeamsScheduler",
            application_identifier="7557eb47-c689-4224-abcf-aef9bd7573df",
            enabled=False,
        ),
        PartnerApplication(
            name="SfBLegacy", application_identifier="00000004-0000-0ff1-ce00-000000000000", enabled=True
        ),
    ]


class Rbac(_Model):
    # Whether a role entry exposes Set-PartnerApplication -AppOnlyPermissions on the
    # Exchange endpoint (it does not by default: the parameter is "reserved for internal
    # Microsoft use").
    app_only_permissions: bool = False


class Authentication(_Model):
    """How the servers authenticate, by endpoint. The defaults are a real Exchange 2019 server's:
    /PowerShell takes Kerberos only (IIS Windows authentication is off on Default Web Site/
    PowerShell and Exchange's kerbauth module authenticates: a real E19 applicationHost.config
    in CSS-Exchange's test data), /wsman takes Negotiate (Kerberos or NTLM) and, over HTTPS,
    Basic (a deviation: WinRM's service has Basic off by default; the tests use it), and no
    CredSSP (off unless Enable-WSManCredSSP -Role Server was run)."""

    exchange: list[Literal["kerberos", "ntlm"]] = Field(default=["kerberos"], min_length=1)
    credssp: bool = False  # /wsman takes CredSSP (over HTTPS)
    # the servers' computer accounts are trusted for delegation in Active Directory: a Kerberos
    # ticket the client delegates then carries the second hop
    kerberos_delegation: bool = False
    # model the second hop: the Exchange snap-in's cmdlets, in a WinRM session whose logon
    # cannot reach Active Directory as the user (NTLM, Basic, Kerberos without delegation),
    # fail. Off only in labs that do not teach it (the embedded `--host sim`, most tests)
    second_hop: bool = True


class Scenario(_Model):
    description: str = "Hybrid Exchange 2019 CU15 organization"
    organization: Organization = Field(default_factory=Organization)
    credentials: list[Credential] = Field(default_factory=lambda: [Credential()], min_length=1)
    servers: int | list[Server] = 1
    server_defaults: ServerDefaults = Field(default_factory=ServerDefaults)
    partner_applications: list[PartnerApplication] = Field(default_factory=_default_partner_applications)
    rbac: Rbac = Field(default_factory=Rbac)
    # How ActAsPermissions/AppOnlyPermissions reach the client: as System.String[] (what a
    # real lab's Export-Clixml shows) or as Exchange's MultiValuedProperty<string>.
    multi_valued_shape: Literal["string-array", "multi-valued-property"] = "string-array"
    restart_seconds: float = Field(default=2.0, ge=0)
    # how long a real server takes (sim/latency.py): "none", "realistic", or the keys
    latency: Latency | Literal["none", "realistic"] = "none"
    faults: list[Fault] = Field(default_factory=list)
    authentication: Authentication = Field(default_factory=Authentication)

    @field_validator("servers")
    @classmethod
    def _some_servers(cls, value: int | list[Server]) -> int | list[Server]:
        count = value if isinstance(value, int) else len(value)
        if not 1 <= count <= 200:
            raise ValueError("an organization has between 1 and 200 servers")
        if isinstance(value, list):
            names = [server.name.lower() for server in value]
            if len(set(names)) != len(names):
                raise ValueError("server names must be unique")
        return value

    def server_list(self) -> list[Server]:
        if isinstance(self.servers, list):
            return self.servers
        base = self.server_defaults.model_dump()
        return [Server(name=f"ex{index:02d}", **base) for index in range(1, self.servers + 1)]

    def with_server_count(self, count: int) -> Scenario:
        if isinstance(self.servers, list) and len(self.servers) != count:
            raise RemediateError(
                "sim-servers-conflict",
                f"the scenario lists {len(self.servers)} servers but --servers asks for {count}",
                "drop --servers, or list the servers you want in the scenario",
            )
        return self.model_copy(update={"servers": count if isinstance(self.servers, int) else self.servers})

    def digest(self) -> str:
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def load_scenario(path: Path) -> Scenario:
    """Read a scenario file; errors name file:line:column and the key."""
    from remediate.support import yamlsource

    reference = "sim-scenario-invalid"
    document = yamlsource.parse(yamlsource.read(path, reference), str(path), reference)
    return yamlsource.validated(Scenario, document, reference, "see the scenario keys in the README")
