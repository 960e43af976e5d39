"""Preconditions: what must hold on a server before a playbook may change any server.

    preconditions:
      - exchange_build: {minimum: 15.1.544.27}     # Exchange 2016 CU3, where the REST endpoint appeared
      - exchange_parameter: {cmdlet: Set-PartnerApplication, parameter: AppOnlyPermissions}
      - intact_web_config: {path: '%ExchangeInstallPath%FrontEnd\\HttpProxy\\rest\\web.config'}

All of them are checked on every server before anything is written anywhere; the plan shows
a table of the results.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from remediate.support.builds import product

UNEXPANDED = "%ExchangeInstallDir%"
BACKSLASH = "\\"


def parse_build(text: str) -> tuple[int, int, int, int]:
    parts = text.strip().split(".")
    if len(parts) != 4 or not all(part.isdigit() for part in parts):
        raise ValueError(f"{text!r} is not an Exchange build (four numbers, like 15.2.1748.10)")
    major, minor, build, revision = (int(part) for part in parts)
    return major, minor, build, revision


class PreflightReader(Protocol):
    def exchange_build(self) -> str: ...
    def expand(self, path: str) -> str: ...
    def read_file(self, path: str) -> bytes | None: ...
    def parameter_available(self, cmdlet: str, parameter: str) -> bool: ...


@dataclass(frozen=True)
class Check:
    label: str  # a column heading: "build >= 15.1.544.27"
    problem: str | None  # None: passed


class ExchangeBuild(BaseModel):
    """The server runs at least this Exchange build (from the Setup registry key)."""

    model_config = ConfigDict(extra="forbid")
    minimum: str = Field(description="Four-part build, e.g. 15.1.544.27 for Exchange 2016 CU3.")

    @field_validator("minimum")
    @classmethod
    def _build(cls, value: str) -> str:
        parse_build(value)
        return value

    def check(self, reader: PreflightReader) -> Check:
        build = reader.exchange_build()
        problem = None
        if parse_build(build) < parse_build(self.minimum):
            problem = (
                f"runs {product(build)} ({build}); this playbook needs {product(self.minimum)} "
                f"({self.minimum}) or later"
            )
        return Check(f"build >= {self.minimum}", problem)


class ExchangeParameter(BaseModel):
    """A cmdlet parameter is available through the Exchange session remediate uses (RBAC)."""

    model_config = ConfigDict(extra="forbid")
    cmdlet: str = Field(pattern=r"^[A-Z][a-z]+-[A-Z][A-Za-z0-9]*$")
    parameter: str = Field(pattern=r"^[A-Z][A-Za-z0-9]*$")

    def check(self, reader: PreflightReader) -> Check:
        problem = None
        if not reader.parameter_available(self.cmdlet, self.parameter):
            problem = (
                f"{self.cmdlet} -{self.parameter} is not granted by RBAC on the Exchange endpoint "
                f"(Get-ManagementRoleEntry '*\\{self.cmdlet}' -Parameters {self.parameter} finds nothing)"
            )
        return Check(f"-{self.parameter}", problem)


class IntactWebConfig(BaseModel):
    """The file does not contain the literal %ExchangeInstallDir% a failed update leaves behind."""

    model_config = ConfigDict(extra="forbid")
    path: str

    def check(self, reader: PreflightReader) -> Check:
        path = reader.expand(self.path)
        content = reader.read_file(path)
        problem = None
        if content is not None and UNEXPANDED.encode() in content:
            problem = (
                f"{path} contains the literal {UNEXPANDED} that a failed update leaves behind; remediate does "
                "not edit around it"
            )
        short = BACKSLASH.join(self.path.split(BACKSLASH)[-3:])
        return Check(f"{short} intact", problem)


PRECONDITION_KINDS: dict[str, type[BaseModel]] = {
    "exchange_build": ExchangeBuild,
    "exchange_parameter": ExchangeParameter,
    "intact_web_config": IntactWebConfig,
}

HINTS = {
    "exchange_build": "update the server, or leave it out of this run (--limit)",
    "exchange_parameter": "use --exchange snapin (the snap-in is not RBAC-filtered), or grant the parameter with a "
    "management role entry",
    "intact_web_config": "finish or repair the cumulative update (run its Setup again) or restore the file from a "
    "backup, then plan again",
}
