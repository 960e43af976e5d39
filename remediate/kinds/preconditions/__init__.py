"""Precondition kinds: what must hold on a server before a playbook may change any server.

    preconditions:
      - exchange_build: {minimum: 15.1.544.27}     # Exchange 2016 CU3, where the REST endpoint appeared
      - exchange_parameter: {cmdlet: Set-PartnerApplication, parameter: AppOnlyPermissions}
      - intact_web_config: {path: '%ExchangeInstallPath%FrontEnd\\HttpProxy\\rest\\web.config'}

Every kind is one module with one object satisfying `PreconditionKind`, listed in `REGISTRY`.
All of them are checked on every server before anything is written anywhere; the plan shows
a table of the results.
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


@dataclass(frozen=True)
class Check:
    label: str  # a column heading: "build >= 15.1.544.27"
    problem: str | None  # None: passed


class PreconditionKind(Protocol):
    kind: str
    spec: type[BaseModel]
    hint: str  # what to do when it fails

    def check(self, spec: Any, reader: PreflightReader) -> Check: ...


def _registry() -> dict[str, PreconditionKind]:
    from remediate.kinds.preconditions import exchange_build, exchange_parameter, intact_web_config

    modules = (exchange_build, exchange_parameter, intact_web_config)
    return {module.PRECONDITION.kind: module.PRECONDITION for module in modules}


REGISTRY: dict[str, PreconditionKind] = _registry()
