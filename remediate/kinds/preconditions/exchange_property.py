"""`exchange_property`: a property of an Exchange object holds one of the allowed values.

    - exchange_property:
        noun: OutlookAnywhere                         # read with Get-OutlookAnywhere -Identity ...
        identity: '%COMPUTERNAME%\\Rpc (Default Web Site)'   # %variables% of the server expanded
        property: SSLOffloading
        one_of: [false]
        hint: "Set-OutlookAnywhere 'SERVER\\Rpc (Default Web Site)' -SSLOffloading $false"

Read through the run's Exchange access (Get-<noun> -Identity), on each server. An object
that does not exist fails.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from remediate.kinds.preconditions import Check, PreflightReader


class ExchangeProperty(BaseModel):
    """A property of an Exchange object (read with Get-<noun> -Identity) holds an allowed value."""

    model_config = ConfigDict(extra="forbid")
    noun: str = Field(pattern=r"^[A-Z][A-Za-z0-9]+$", description="The cmdlet noun: OutlookAnywhere.")
    identity: str = Field(min_length=1, description="The object; %variables% of the server expanded.")
    property: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9]*$")
    one_of: list[bool | int | str] = Field(min_length=1, description="The values that pass.")
    hint: str | None = Field(default=None, description="What to do when it fails (else a general hint).")

    def allowed(self) -> str:  # a method: the field `property` hides the builtin in this class
        return " or ".join(repr(v) for v in self.one_of)


def _same(value: Any, allowed: bool | int | str) -> bool:
    if isinstance(allowed, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(allowed, bool) and value is allowed
    if isinstance(allowed, str):
        return str(value).lower() == allowed.lower()
    return value == allowed


class _ExchangeProperty:
    kind = "exchange_property"
    spec = ExchangeProperty
    hint = "change the setting as the playbook's notice says, or leave the server out of this run (--limit)"

    def describe(self, spec: ExchangeProperty) -> str:
        return f"Get-{spec.noun} '{spec.identity}': {spec.property} is {spec.allowed()}" + (
            f" (else: {spec.hint})" if spec.hint else ""
        )

    def label(self, spec: ExchangeProperty) -> str:
        return f"{spec.property} {spec.allowed()}"

    def check(self, spec: ExchangeProperty, reader: PreflightReader) -> Check:
        identity = reader.expand(spec.identity)
        found = reader.exchange_object(spec.noun, identity)
        label = self.label(spec)
        if found is None:
            return Check(
                label, f"Get-{spec.noun} finds no '{identity}', so {spec.property} cannot be checked"
            )
        value = found.get(spec.property)
        problem = None
        if not any(_same(value, allowed_value) for allowed_value in spec.one_of):
            problem = f"'{identity}' has {spec.property} {value!r}; this playbook needs {spec.allowed()}"
            if spec.hint:
                problem += f": {spec.hint.replace('SERVER', identity.split(chr(92))[0])}"
        return Check(label, problem)


PRECONDITION = _ExchangeProperty()
