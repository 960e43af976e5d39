"""`exchange_parameter`: a cmdlet parameter is available through the Exchange session (RBAC)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from remediate.kinds.preconditions import Check, PreflightReader


class ExchangeParameter(BaseModel):
    """A cmdlet parameter is available through the Exchange session remediate uses (RBAC)."""

    model_config = ConfigDict(extra="forbid")
    cmdlet: str = Field(pattern=r"^[A-Z][a-z]+-[A-Z][A-Za-z0-9]*$")
    parameter: str = Field(pattern=r"^[A-Z][A-Za-z0-9]*$")


class _ExchangeParameter:
    kind = "exchange_parameter"
    spec = ExchangeParameter
    hint = (
        "use --exchange snapin (the snap-in is not RBAC-filtered), or grant the parameter with a "
        "management role entry"
    )

    def label(self, spec: ExchangeParameter) -> str:
        return f"-{spec.parameter}"

    def check(self, spec: ExchangeParameter, reader: PreflightReader) -> Check:
        problem = None
        if not reader.parameter_available(spec.cmdlet, spec.parameter):
            problem = (
                f"{spec.cmdlet} -{spec.parameter} is not granted by RBAC on the Exchange endpoint "
                f"(Get-ManagementRoleEntry '*\\{spec.cmdlet}' -Parameters {spec.parameter} finds nothing)"
            )
        return Check(self.label(spec), problem)


PRECONDITION = _ExchangeParameter()
