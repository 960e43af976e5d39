"""`registry_value`: a registry value on the server holds one of the allowed values.

    - registry_value:
        key: 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Lsa'
        name: SuppressExtendedProtection
        one_of: [0]
        missing: pass          # a value (or key) that does not exist passes; default: fail

Read with Get-ItemProperty, as the registry_value resource reads it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from remediate.kinds.preconditions import Check, PreflightReader, shown
from remediate.kinds.resources.registry_value import KEY_PATTERN


class RegistryCondition(BaseModel):
    """A registry value holds one of the allowed values."""

    model_config = ConfigDict(extra="forbid")
    key: str = Field(pattern=KEY_PATTERN, description="The key, as HKLM:\\SYSTEM\\...")
    name: str = Field(min_length=1)
    one_of: list[int | str] = Field(min_length=1, description="The values that pass.")
    missing: Literal["pass", "fail"] = Field(default="fail", description="When the value does not exist.")
    hint: str | None = Field(default=None, description="What to do when it fails (else a general hint).")

    @property
    def allowed(self) -> str:
        return " or ".join(repr(v) for v in self.one_of) + (" or missing" if self.missing == "pass" else "")


class _RegistryValue:
    kind = "registry_value"
    spec = RegistryCondition
    hint = "set the value as the playbook's notice says, or leave the server out of this run (--limit)"

    def describe(self, spec: RegistryCondition) -> str:
        return f"{spec.key}\\{spec.name} is {spec.allowed}" + (f" (else: {spec.hint})" if spec.hint else "")

    def label(self, spec: RegistryCondition) -> str:
        bits = " (32-bit)" if "\\wow6432node\\" in spec.key.lower() else ""
        return f"{spec.name}{bits} {spec.allowed}"

    def check(self, spec: RegistryCondition, reader: PreflightReader) -> Check:
        values = reader.registry_values(spec.key)
        value = None if values is None else values.get(spec.name)
        passed = (spec.missing == "pass") if value is None else value in spec.one_of
        problem = None
        if not passed:
            problem = f"{spec.key}\\{spec.name} is {shown(value)}; this playbook needs {spec.allowed}"
            if spec.hint:
                problem += f" ({spec.hint})"
        return Check(self.label(spec), problem)


PRECONDITION = _RegistryValue()
