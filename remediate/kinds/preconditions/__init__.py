"""Precondition kinds: what must hold on a server before a playbook may change any server.

    preconditions:
      - exchange_build: {minimum: 15.1.544.27}     # Exchange 2016 CU3, where the REST endpoint appeared
      - exchange_parameter: {cmdlet: Set-PartnerApplication, parameter: AppOnlyPermissions}
      - intact_web_config: {path: '%ExchangeInstallPath%FrontEnd\\HttpProxy\\rest\\web.config'}
      - registry_value: {key: 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Lsa', name: SuppressExtendedProtection,
                         one_of: [0], missing: pass}
      - exchange_property: {noun: OutlookAnywhere, identity: '%COMPUTERNAME%\\Rpc (Default Web Site)',
                            property: SSLOffloading, one_of: [false]}
      - same_on_all_servers: {what: TLS configuration, registry: [{key: ..., names: [Enabled]}]}

Every kind is one module with one object satisfying `PreconditionKind`, listed in `REGISTRY`.
All of them are checked on every server before anything is written anywhere; the plan shows
a table of the results. A kind with `across_servers` also compares what each server observed
(`Check.observed`) with the other servers of the run (`engine.decide`): a server that differs
from the rest fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel


class PreflightReader(Protocol):
    """What preconditions may read. Every read is a real cmdlet; none writes."""

    def exchange_build(self) -> str: ...
    def expand(self, path: str) -> str: ...
    def read_file(self, path: str) -> bytes | None: ...
    def parameter_available(self, cmdlet: str, parameter: str) -> bool: ...
    def registry_values(self, key: str) -> dict[str, Any] | None: ...
    def exchange_object(self, noun: str, identity: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class Check:
    label: str  # a column heading: "build >= 15.1.544.27"
    problem: str | None  # None: passed
    # what an across-servers kind saw here, compared with the other servers: (name, value) pairs
    observed: tuple[tuple[str, Any], ...] = ()
    applies: bool = True  # False: the precondition is not for this server (a set member's `servers`)


class PreconditionKind(Protocol):
    kind: str
    spec: type[BaseModel]
    hint: str  # what to do when it fails

    def label(self, spec: Any) -> str: ...  # the column heading of its check, before reading

    def check(self, spec: Any, reader: PreflightReader) -> Check: ...


def shown(value: object) -> str:
    """A value read for a check, for people: a missing one says so."""
    return "missing" if value is None else repr(value)


def across_servers(kind: PreconditionKind) -> bool:
    return bool(getattr(kind, "across_servers", False))


def _registry() -> dict[str, PreconditionKind]:
    from remediate.kinds.preconditions import (
        exchange_build,
        exchange_parameter,
        exchange_property,
        intact_web_config,
        registry_value,
        same_on_all_servers,
    )

    modules = (
        exchange_build,
        exchange_parameter,
        exchange_property,
        intact_web_config,
        registry_value,
        same_on_all_servers,
    )
    return {module.PRECONDITION.kind: module.PRECONDITION for module in modules}


REGISTRY: dict[str, PreconditionKind] = _registry()
