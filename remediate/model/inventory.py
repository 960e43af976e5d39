"""Inventories: the servers of an organization, how to reach them, and groups of them.

    defaults:                     # shared by every server unless it says otherwise
      transport: https
      auth: negotiate
      exchange: snapin
      ca_file: corp-ca.pem        # relative to this file
      username: CONTOSO\\admin
    servers:
      ex01: {}                    # the host is the name
      ex02: {host: 10.0.0.12, port: 5986}
      ex03: {host: ex03.contoso.lab, exchange: remote}
    groups:
      site-a: [ex01, ex02]
      site-b: [ex03]
    vars: {protocol: TLS 1.2}     # playbooks' variables, for every server
    group_vars:                   # ... for a group's servers
      site-b: {owa_host: mail.b.contoso.com}
    # a server's own: servers: {ex03: {vars: {owa_host: ...}}}

`--limit` picks servers or groups (`--limit site-a`, `--limit ex01,ex03`). A variable's value
for a server: `--var` (or `--var-file`), else the server's `vars`, else its group's
`group_vars` (two of its groups giving different values is an error), else `vars`, else the
playbook's default.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from remediate.model.variables import as_text, as_texts
from remediate.support import yamlsource
from remediate.support.errors import RemediateError
from remediate.winrm.settings import Connection, Logon, Server

INVALID = "inventory-invalid"
SERVER_KEYS = ("port", "path", "exchange_port", "exchange_path", "spn_hostname")  # where it is
LOGON_KEYS = ("username", "password_file", "password_env")  # as whom


class Settings(BaseModel):
    """How to reach a server; every key may be set in `defaults` or on one server."""

    model_config = ConfigDict(extra="forbid")
    transport: Literal["https", "http"] | None = None
    auth: Literal["negotiate", "ntlm", "kerberos", "basic"] | None = None
    exchange: Literal["snapin", "remote"] | None = None
    ca_file: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    path: str | None = None
    exchange_port: int | None = Field(default=None, ge=1, le=65535)
    exchange_path: str | None = None
    timeout: int | None = Field(default=None, ge=1, le=3600)
    connect_timeout: int | None = Field(default=None, ge=1, le=600)
    restart_timeout: int | None = Field(default=None, ge=1, le=3600)
    insecure: bool | None = Field(
        default=None, description="Do not verify the certificate (https): labs only; recorded in the journal."
    )
    spn_service: str | None = Field(default=None, description="Kerberos: the service class of the SPN.")
    kerberos_delegate: bool | None = Field(
        default=None, description="Kerberos: delegate the ticket (second hop)."
    )
    # as whom: a password is named by where it is, never written here
    username: str | None = None
    password_file: str | None = Field(
        default=None, description="A file holding the password (mode 600), relative to this file."
    )
    password_env: str | None = Field(
        default=None, description="An environment variable holding the password."
    )

    @model_validator(mode="before")
    @classmethod
    def _no_password(cls, data: object) -> object:
        if isinstance(data, dict) and "password" in data:
            raise ValueError(
                "a password is never written in an inventory: name where it is with password_file or password_env"
            )
        return data


class Defaults(Settings):
    pass


Value = str | int | bool


class ServerEntry(Settings):
    host: str | None = Field(default=None, description="Host name or address; the server's name when absent.")
    spn_hostname: str | None = Field(
        default=None, description="Kerberos: the server's name in Active Directory, when host is an address."
    )
    vars: dict[str, Value] = Field(
        default={}, description="Values for playbooks' variables on this server (--var wins)."
    )


class Inventory(BaseModel):
    model_config = ConfigDict(extra="forbid", title="remediate inventory")
    defaults: Defaults = Field(default_factory=Defaults)
    servers: dict[str, ServerEntry] = Field(min_length=1)
    groups: dict[str, list[str]] = Field(default={})
    vars: dict[str, Value] = Field(
        default={}, description="Values for playbooks' variables, for every server (--var wins)."
    )
    group_vars: dict[str, dict[str, Value]] = Field(
        default={}, description="Values for playbooks' variables on a group's servers (a server's own win)."
    )

    @model_validator(mode="after")
    def _groups_name_servers(self) -> Inventory:
        for group, members in self.groups.items():
            if group in self.servers:
                raise ValueError(f"group {group!r} has the name of a server")
            for member in members:
                if member not in self.servers:
                    close = difflib.get_close_matches(member, list(self.servers), n=1)
                    hint = f" (did you mean {close[0]!r}?)" if close else ""
                    raise ValueError(f"group {group!r} names {member!r}, which is not a server{hint}")
        for group in self.group_vars:
            if group not in self.groups:
                raise ValueError(f"group_vars names {group!r}, which is not a group")
        return self

    def shared_vars(self) -> dict[str, str]:
        """The values for every server (as text, as --var gives them)."""
        return as_texts(self.vars)

    def server_vars(self, name: str) -> dict[str, str]:
        """The values this server's groups and own entry give (as text, as --var gives them)."""
        values: dict[str, str] = {}
        origin: dict[str, str] = {}
        for group, members in self.groups.items():
            if name not in members:
                continue
            for key, value in self.group_vars.get(group, {}).items():
                if key in values and values[key] != as_text(value):
                    raise RemediateError(
                        INVALID,
                        f"server {name!r} is in groups {origin[key]!r} and {group!r}, which give "
                        f"{key} different values ({values[key]!r}, {as_text(value)!r})",
                        f"give {name} its own value: servers: {{{name}: {{vars: {{{key}: ...}}}}}}",
                    )
                values[key], origin[key] = as_text(value), group
        values.update(as_texts(self.servers[name].vars))
        return values


@dataclass(frozen=True)
class Entry:
    """One server of an inventory, resolved: where it is and how to reach it."""

    server: Server
    connection: Connection
    logon: Logon


@dataclass(frozen=True)
class LoadedInventory:
    inventory: Inventory
    source: Path

    @property
    def username(self) -> str | None:
        return self.inventory.defaults.username

    def select(self, limits: list[str]) -> list[str]:
        """Server names `--limit` picks (all, in inventory order, when there is no limit)."""
        names = list(self.inventory.servers)
        if not limits:
            return names
        wanted: set[str] = set()
        for limit in (part.strip() for value in limits for part in value.split(",") if part.strip()):
            if limit in self.inventory.servers:
                wanted.add(limit)
            elif limit in self.inventory.groups:
                wanted.update(self.inventory.groups[limit])
            else:
                choices = names + list(self.inventory.groups)
                close = difflib.get_close_matches(limit, choices, n=1)
                raise RemediateError(
                    "limit-unknown",
                    f"--limit {limit!r}: no server or group of that name in {self.source}",
                    f"did you mean {close[0]!r}?" if close else f"servers: {', '.join(names)}",
                )
        return [name for name in names if name in wanted]

    def entry(self, name: str, base: Connection, fill: dict[str, Any] | None = None) -> Entry:
        """The server `name`: its own keys, else the inventory's defaults, else `base` (the
        command line's connection) and `fill` (the command line's server keys, such as
        `exchange_port`). What the file says wins, `insecure: false` included."""
        defaults, own = self.inventory.defaults, self.inventory.servers[name]
        keys = {
            **defaults.model_dump(exclude_none=True),
            **own.model_dump(exclude_none=True, exclude={"host", "vars"}),
        }
        where = {key: keys.pop(key) for key in SERVER_KEYS if key in keys}
        where = {**{k: v for k, v in (fill or {}).items() if v is not None and k in SERVER_KEYS}, **where}
        who = {key: keys.pop(key) for key in LOGON_KEYS if key in keys}
        if "ca_file" in keys:
            keys["ca_file"] = self.source.parent / str(keys["ca_file"])
        keys["insecure"] = bool(keys["insecure"] if "insecure" in keys else base.insecure)
        keys["delegate"] = bool(
            keys.pop("kerberos_delegate") if "kerberos_delegate" in keys else base.delegate
        )
        connection = base.overridden(**keys)
        return Entry(Server(name=name, address=own.host or name, **where), connection, self._logon(who))

    def _logon(self, keys: dict[str, str]) -> Logon:
        password_file = keys.get("password_file")
        return Logon(
            keys.get("username"),
            self.source.parent / password_file if password_file else None,
            keys.get("password_env"),
        )

    def logon(self, name: str | None) -> Logon:
        """The inventory's logon for server `name` (None: its defaults')."""
        defaults = self.inventory.defaults.model_dump(include=set(LOGON_KEYS), exclude_none=True)
        own = (
            {}
            if name is None
            else self.inventory.servers[name].model_dump(include=set(LOGON_KEYS), exclude_none=True)
        )
        return self._logon({**defaults, **own})


def load(path: Path) -> LoadedInventory:
    document = yamlsource.parse(yamlsource.read(path, INVALID), str(path), INVALID)
    inventory = yamlsource.validated(Inventory, document, INVALID, "see the inventory keys in the README")
    _check_files(inventory, document, path)
    return LoadedInventory(inventory, path)


def _check_files(inventory: Inventory, document: Any, path: Path) -> None:
    """A `ca_file` that does not exist is found here, at its file:line:column, not per server
    when connecting."""
    places: list[tuple[tuple[str, ...], str | None]] = [(("defaults", "ca_file"), inventory.defaults.ca_file)]
    places += [(("servers", name, "ca_file"), server.ca_file) for name, server in inventory.servers.items()]
    for location, value in places:
        if value is None or (path.parent / value).is_file():
            continue
        raise RemediateError(
            INVALID,
            f"{document.where(location)}: ca_file: {path.parent / value} does not exist",
            "ca_file is relative to the inventory file; check the name",
        )


def discovered(
    servers: list[dict[str, str]],
    connection: Connection,
    username: str | None,
    *,
    first: Server | None = None,
    saved_in: Path | None = None,
) -> str:
    """An inventory (YAML text) for servers found with Get-ExchangeServer.

    What the servers say is data from elsewhere: it goes through the YAML emitter (which quotes
    and escapes whatever needs it, every non-ASCII character among them, so no line break a
    parser honours, such as NEL or U+2028, can end a scalar), and comments hold only a safe
    subset of it."""
    import yaml

    defaults: dict[str, Any] = {
        "transport": connection.transport,
        "auth": connection.auth,
        "exchange": connection.exchange,
    }
    if connection.ca_file:
        # relative to the inventory file (where it will be saved), else absolute: never
        # relative to the directory discover happened to run in
        ca_file = Path(connection.ca_file).resolve()
        defaults["ca_file"] = (
            os.path.relpath(ca_file, saved_in.resolve().parent) if saved_in else str(ca_file)
        )
    if first is not None:  # the ports the first server was reached on: the others likely use them too
        defaults |= {k: v for k, v in (("port", first.port), ("exchange_port", first.exchange_port)) if v}
    if username:
        defaults["username"] = username
    entries = {server["name"].lower(): {"host": server["fqdn"]} for server in servers}
    header = ["# Discovered with `remediate inventory discover`; review before use."]
    header += [
        f"# {_comment(server['name'].lower())}: {_comment(server['version'])}, {_comment(server['role'])}"
        for server in servers
    ]
    body = yaml.safe_dump(
        {"defaults": defaults, "servers": entries},
        sort_keys=False,
        allow_unicode=False,
        default_flow_style=False,
    )
    return "\n".join(header) + "\n" + body


_COMMENT_SAFE = re.compile(r"[^A-Za-z0-9 .,()_/-]")


def _comment(text: str) -> str:
    """Text for a comment line: anything but letters, digits and plain punctuation becomes '?'."""
    return _COMMENT_SAFE.sub("?", text)[:120]
