"""exchange_object: a property of an Exchange object holds a value.

    exchange_object:
      noun: PartnerApplication
      identity: Microsoft Graph
      property: AppOnlyPermissions
      copy_from: ActAsPermissions      # or: value: [Mail.Read, ...]

Read with `Get-<noun> -Identity`, written (when applying) with `Set-<noun> -Identity
-<property>`. Multi-valued properties are compared as sets of strings, whatever shape the
session hands back; an empty list and no value are the same.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from remediate.kinds.resources import Decision, Overlay, Reader, Scope, Writer, holds_state
from remediate.support.errors import RemediateError

Value = str | bool | int | list[str] | None
_NAME = r"^[A-Z][A-Za-z0-9]*$"


class ExchangeObject(BaseModel):
    """Set a property of an Exchange object, to a value or to another property's value."""

    model_config = ConfigDict(extra="forbid")
    noun: str = Field(pattern=_NAME, description="The cmdlet noun: Get-<noun> reads, Set-<noun> writes.")
    identity: str = Field(min_length=1)
    property: str = Field(pattern=_NAME)
    value: Value = Field(default=None, description="The value to set (a list for multi-valued properties).")
    copy_from: str | None = Field(
        default=None, pattern=_NAME, description="Copy this property's value instead."
    )

    @model_validator(mode="after")
    def _one_source(self) -> ExchangeObject:
        has_value = "value" in self.model_fields_set
        if has_value == (self.copy_from is not None):
            raise ValueError("give exactly one of 'value' and 'copy_from'")
        if self.copy_from == self.property:
            raise ValueError("'copy_from' names the property itself")
        return self


@dataclass(frozen=True)
class ObservedObject:
    properties: dict[str, Any]
    settable: bool


def _as_set(value: Any) -> set[str]:
    if value is None:
        return set()
    if isinstance(value, list):
        return {str(item) for item in value}
    return {str(value)}


def same(current: Any, desired: Any) -> bool:
    """Equal as Exchange means it: multi-valued as sets of strings, empty and none alike."""
    if isinstance(current, list) or isinstance(desired, list) or current is None or desired is None:
        return _as_set(current) == _as_set(desired)
    if isinstance(current, bool) or isinstance(desired, bool):
        return str(current).lower() == str(desired).lower()
    return str(current) == str(desired)


class ExchangeObjectResource:
    kind = "exchange_object"
    spec = ExchangeObject
    scopes: tuple[Scope, ...] = ("organization", "server")
    uses_exchange = True

    def describe(self, spec: ExchangeObject) -> str:
        source = f"its {spec.copy_from}" if spec.copy_from else repr(spec.value)
        return f"set {spec.noun} '{spec.identity}' {spec.property} to {source}"

    def observe(self, spec: ExchangeObject, reader: Reader) -> ObservedObject:
        properties = reader.exchange_object(spec.noun, spec.identity)
        if properties is None:
            raise RemediateError(
                "exchange-object-missing",
                f"{spec.noun} '{spec.identity}' does not exist in the organization",
                f"check the identity; Get-{spec.noun} lists what exists",
            )
        return ObservedObject(properties, reader.can_set(spec.noun, spec.property))

    def decide(self, spec: ExchangeObject, observed: ObservedObject) -> Decision:
        properties = observed.properties
        for name in filter(None, (spec.property, spec.copy_from)):
            if name not in properties:
                raise RemediateError(
                    "exchange-property-missing",
                    f"{spec.noun} '{spec.identity}' has no property {name}",
                    f"check the property name against Get-{spec.noun} | Format-List *",
                )
        current = properties[spec.property]
        desired = properties[spec.copy_from] if spec.copy_from else spec.value
        target = f"{spec.noun} '{spec.identity}' {spec.property}"
        before_state, after_state = encode(current), encode(desired)
        fingerprint = hashlib.sha256(before_state).hexdigest()
        if same(current, desired):
            return Decision(
                target,
                False,
                f"no change ({spec.property} already {_brief(desired)})",
                current,
                desired,
                fingerprint=fingerprint,
            )
        if not observed.settable:
            raise RemediateError(
                "exchange-parameter-unavailable",
                f"Set-{spec.noun} has no -{spec.property} parameter in this Exchange session (RBAC does not grant it)",
                f"use --exchange snapin (the Exchange snap-in on the server endpoint is not RBAC-filtered), or check "
                f"Get-ManagementRoleEntry '*\\Set-{spec.noun}' -Parameters {spec.property}",
            )
        return Decision(
            target=target,
            changed=True,
            summary=f"sets {spec.property} from {_brief(current)} to {_brief(desired)}",
            before=current,
            after=desired,
            fingerprint=fingerprint,
            before_state=before_state,
            after_state=after_state,
        )

    # -- the write side: a property's state is its value as JSON ------------------------------

    def state(self, spec: ExchangeObject, target: str, reader: Reader) -> bytes:
        observed = self.observe(spec, reader)
        return encode(observed.properties.get(spec.property))

    def same(self, spec: ExchangeObject, one: bytes, other: bytes) -> bool:
        return same(decode(one), decode(other))

    def holds(self, spec: ExchangeObject, target: str, wanted: bytes, reader: Reader) -> bool:
        return holds_state(self, spec, target, wanted, reader)

    def write(self, spec: ExchangeObject, target: str, state: bytes, writer: Writer, tag: str) -> bool | None:
        value = decode(state)
        writer.set_property(spec.noun, spec.identity, spec.property, None if value == [] else value)
        return None  # not read back: the caller asks holds()

    def copy_source(self, spec: ExchangeObject, target: str) -> str | None:
        return None  # a value: its snapshot is written from the state

    def remember(self, spec: ExchangeObject, decision: Decision, overlay: Overlay) -> None:
        overlay.plan_property(spec.noun, spec.identity, spec.property, decode(decision.after_state))

    def cleanup(self, spec: ExchangeObject, target: str, writer: Writer, tag: str) -> None:
        return None

    def inverse(self, spec: ExchangeObject, before: bytes, after: bytes, current: bytes) -> bytes:
        """Multi-valued: drop what the change added, put back what it removed, keep the rest."""
        old, new, now = decode(before), decode(after), decode(current)
        if not isinstance(now, list) and not isinstance(new, list):
            return before
        added = _as_set(new) - _as_set(old)
        removed = [value for value in (old or []) if str(value) not in _as_set(new)]
        kept = [value for value in (now or []) if str(value) not in added]
        return encode(kept + [value for value in removed if str(value) not in _as_set(kept)] or None)


def encode(value: Any) -> bytes:
    """A property value's exact state, as stored in the journal."""
    return json.dumps(value, sort_keys=True).encode("utf-8")


def decode(state: bytes) -> Any:
    return json.loads(state.decode("utf-8")) if state else None


def _brief(value: Any) -> str:
    if value is None or value == []:
        return "(empty)"
    if isinstance(value, list):
        return f"{len(value)} value{'s' if len(value) != 1 else ''}"
    return repr(value)


RESOURCE = ExchangeObjectResource()
