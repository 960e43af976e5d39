"""exchange_setting_override: an Exchange setting override exists, as given (or does not).

    exchange_setting_override:
      name: EnableSigningVerification
      component: Data
      section: EnableSerializationDataSigning
      parameters: [Enabled=true]
      reason: Enabling Signing Verification

An organization-wide AD object: read with Get-SettingOverride, created with
New-SettingOverride; a rollback removes exactly the override it created (Remove-SettingOverride)
and nothing else. An override of that name with other settings is not changed: the plan says
so (remove or rename it first), so that an override someone else made is never overwritten.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from remediate.kinds.resources import Decision, Overlay, Reader, Scope, Writer, holds_state
from remediate.support.errors import RemediateError


class SettingOverride(BaseModel):
    """An Exchange setting override (New-SettingOverride's parameters)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")
    component: str = Field(pattern=r"^[A-Za-z0-9]+$")
    section: str = Field(pattern=r"^[A-Za-z0-9]+$")
    parameters: list[str] = Field(min_length=1, description='"Name=Value" strings')
    reason: str = Field(min_length=1)


def encode(state: dict[str, Any] | None) -> bytes:
    return json.dumps(state, sort_keys=True).encode("utf-8")


def decode(state: bytes) -> dict[str, Any] | None:
    return json.loads(state.decode("utf-8")) if state else None  # type: ignore[no-any-return]


def _held(found: dict[str, Any]) -> dict[str, Any]:
    parameters = found.get("Parameters") or []
    return {
        "component": str(found.get("ComponentName") or ""),
        "section": str(found.get("SectionName") or ""),
        "parameters": sorted(
            str(p).lower() for p in (parameters if isinstance(parameters, list) else [parameters])
        ),
    }


class SettingOverrideResource:
    kind = "exchange_setting_override"
    spec = SettingOverride
    scopes: tuple[Scope, ...] = ("organization",)
    uses_exchange = True

    def describe(self, spec: SettingOverride) -> str:
        return f"setting override {spec.name}: {spec.component}\\{spec.section} {', '.join(spec.parameters)}"

    def target(self, spec: SettingOverride) -> str:
        return f"SettingOverride '{spec.name}'"

    def observe(self, spec: SettingOverride, reader: Reader) -> dict[str, Any] | None:
        found = reader.exchange_object("SettingOverride", spec.name)
        return None if found is None else _held(found)

    def wanted(self, spec: SettingOverride) -> dict[str, Any]:
        return {
            "component": spec.component,
            "section": spec.section,
            "parameters": sorted(p.lower() for p in spec.parameters),
        }

    def decide(self, spec: SettingOverride, observed: dict[str, Any] | None) -> Decision:
        wanted = self.wanted(spec)
        if observed is not None and observed != wanted:
            raise RemediateError(
                "setting-override-differs",
                f"a setting override named {spec.name} exists with other settings ({observed['component']}\\"
                f"{observed['section']} {', '.join(observed['parameters'])})",
                "remediate does not change an override it did not make: remove it (Remove-SettingOverride) "
                "or give this one another name",
            )
        return Decision(
            target=self.target(spec),
            changed=observed is None,
            summary=f"creates {spec.component}\\{spec.section} {', '.join(spec.parameters)}"
            if observed is None
            else "no change (the override exists as wanted)",
            before="(none)" if observed is None else ", ".join(observed["parameters"]),
            after=", ".join(spec.parameters),
            fingerprint=hashlib.sha256(encode(observed)).hexdigest(),
            before_state=encode(observed),
            after_state=encode(
                {**wanted, "reason": spec.reason, "name": spec.name, "given": spec.parameters}
            ),
        )

    def state(self, spec: SettingOverride, target: str, reader: Reader) -> bytes:
        return encode(self.observe(spec, reader))

    def same(self, spec: SettingOverride, one: bytes, other: bytes) -> bool:
        def held(state: bytes) -> Any:
            data = decode(state)
            return None if data is None else {k: data[k] for k in ("component", "section", "parameters")}

        return held(one) == held(other)  # type: ignore[no-any-return]

    def holds(self, spec: SettingOverride, target: str, wanted: bytes, reader: Reader) -> bool:
        return holds_state(self, spec, target, wanted, reader)

    def write(
        self, spec: SettingOverride, target: str, state: bytes, writer: Writer, tag: str
    ) -> bool | None:
        wanted = decode(state)
        if wanted is None:
            writer.remove_setting_override(spec.name)
            return None  # not read back: the caller asks holds()
        parameters = wanted.get("given") or spec.parameters
        writer.new_setting_override(spec.name, spec.component, spec.section, list(parameters), spec.reason)
        return None

    def copy_source(self, spec: SettingOverride, target: str) -> str | None:
        return None

    def inverse(self, spec: SettingOverride, before: bytes, after: bytes, current: bytes) -> bytes:
        return before

    def remember(self, spec: SettingOverride, decision: Decision, overlay: Overlay) -> None:
        """Later steps see the override as Get-SettingOverride would show it."""
        overlay.plan_object(
            "SettingOverride",
            spec.name,
            {
                "ComponentName": spec.component,
                "SectionName": spec.section,
                "Parameters": list(spec.parameters),
            },
        )

    def cleanup(self, spec: SettingOverride, target: str, writer: Writer, tag: str) -> None:
        return None


RESOURCE = SettingOverrideResource()
