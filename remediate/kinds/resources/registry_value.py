"""registry_value: a registry value holds a given DWord or String.

    registry_value:
      key: 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\Server'
      name: Enabled
      type: DWord
      value: 1

Read with Get-ItemProperty; a missing key is created level by level with New-Item (never
-Force, which deletes a key that exists), the value with New-ItemProperty -PropertyType, or
changed with Set-ItemProperty. The state records which keys did not exist: a rollback
removes the value it created (Remove-ItemProperty) and the keys it created (Remove-Item,
deepest first, and only while they are empty: a value or subkey someone added since stops it).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from remediate.kinds.resources import Decision, Overlay, Reader, Scope, Writer, holds_state

KEY_PATTERN = r"^HKLM:\\[^*?\[\]]+$"  # a key under HKLM:, no wildcards


class RegistryValue(BaseModel):
    """Set a registry value (a DWord or a String), creating its key if needed."""

    model_config = ConfigDict(extra="forbid")
    key: str = Field(pattern=KEY_PATTERN, description="The key, as HKLM:\\SOFTWARE\\...")
    name: str = Field(min_length=1)
    type: Literal["DWord", "String"] = "DWord"
    value: int | str

    @model_validator(mode="after")
    def _typed(self) -> RegistryValue:
        if self.type == "DWord" and not (isinstance(self.value, int) and 0 <= self.value <= 0xFFFFFFFF):
            raise ValueError("a DWord value is a whole number from 0 to 4294967295")
        if self.type == "String" and not isinstance(self.value, str):
            raise ValueError("a String value is text: quote it")
        return self


def encode(state: dict[str, Any]) -> bytes:
    return json.dumps(state, sort_keys=True).encode("utf-8")


def decode(state: bytes) -> dict[str, Any]:
    return json.loads(state.decode("utf-8"))  # type: ignore[no-any-return]


def _parents(key: str) -> list[str]:
    """The key and its ancestors below the hive, deepest first."""
    hive, _, rest = key.partition("\\")
    parts = rest.split("\\")
    return [hive + "\\" + "\\".join(parts[:n]) for n in range(len(parts), 0, -1)]


class RegistryValueResource:
    kind = "registry_value"
    spec = RegistryValue
    scopes: tuple[Scope, ...] = ("server",)
    uses_exchange = False

    def describe(self, spec: RegistryValue) -> str:
        return f"set {spec.key}\\{spec.name} to {spec.type} {spec.value!r}"

    def target(self, spec: RegistryValue) -> str:
        return f"{spec.key}\\{spec.name}"

    def observe(self, spec: RegistryValue, reader: Reader) -> dict[str, Any]:
        """{"missing": the keys that do not exist, top first; "value": {type, data} or None}."""
        missing: list[str] = []
        values = None
        for level in _parents(spec.key):
            values = reader.registry_values(level)
            if values is not None:
                break
            missing.insert(0, level)
        own = values if not missing else None  # the first read was of the key itself
        found = next((v for n, v in (own or {}).items() if n.lower() == spec.name.lower()), None)
        value = (
            None
            if found is None
            else {"type": "DWord" if isinstance(found, int) else "String", "data": found}
        )
        return {"missing": missing, "value": value}

    def decide(self, spec: RegistryValue, observed: dict[str, Any]) -> Decision:
        wanted = {"missing": [], "value": {"type": spec.type, "data": spec.value}}
        changed = observed["value"] != wanted["value"]
        now = observed["value"]
        shown = "(not set)" if now is None else f"{now['type']} {now['data']!r}"
        creates = f"; creates {', '.join(observed['missing'])}" if observed["missing"] else ""
        # how to get there, for `write` (it does not read): the keys to create, New- or Set-
        hints = {"create": observed["missing"], "new": now is None}
        return Decision(
            target=self.target(spec),
            changed=changed,
            summary=f"sets {shown} -> {spec.type} {spec.value!r}{creates}"
            if changed
            else f"no change (already {spec.type} {spec.value!r})",
            before=shown,
            after=f"{spec.type} {spec.value!r}",
            fingerprint=hashlib.sha256(encode(observed)).hexdigest(),
            before_state=encode(observed),
            after_state=encode({**wanted, **hints}),
        )

    def state(self, spec: RegistryValue, target: str, reader: Reader) -> bytes:
        return encode(self.observe(spec, reader))

    def same(self, spec: RegistryValue, one: bytes, other: bytes) -> bool:
        """The value is what counts (and its type): keys it needed are created with it, and
        removed with it when empty, but an empty key left behind is not a different state."""
        return decode(one)["value"] == decode(other)["value"]

    def holds(self, spec: RegistryValue, target: str, wanted: bytes, reader: Reader) -> bool:
        return holds_state(self, spec, target, wanted, reader)

    def write(self, spec: RegistryValue, target: str, state: bytes, writer: Writer, tag: str) -> bool | None:
        wanted = decode(state)
        if wanted["value"] is not None:
            for key in wanted.get("create", []):  # top first; one that exists by now is fine
                writer.new_registry_key(key)
            data, kind = wanted["value"]["data"], wanted["value"]["type"]
            if wanted.get("new"):
                writer.new_registry_value(spec.key, spec.name, data, kind)
            else:  # a value that exists (restoring one, or changing it) keeps its kind
                writer.set_registry_value(spec.key, spec.name, data)
            return None  # not read back: the caller asks holds()
        # the value did not exist (nor, perhaps, its keys): take away what this change made,
        # the keys deepest first and only while empty (another step's value may still be there)
        writer.remove_registry_value(spec.key, spec.name)
        for key in reversed(wanted["missing"]):
            if not writer.remove_registry_key(key):
                break
        return None

    def copy_source(self, spec: RegistryValue, target: str) -> str | None:
        return None  # a value: its snapshot is written from the state

    def inverse(self, spec: RegistryValue, before: bytes, after: bytes, current: bytes) -> bytes:
        """One value: undoing only this change is putting the earlier value back."""
        return before

    def remember(self, spec: RegistryValue, decision: Decision, overlay: Overlay) -> None:
        """Later steps see the keys this one creates and the value it sets."""
        for key in decode(decision.after_state).get("create", []):
            overlay.plan_registry(key)
        overlay.plan_registry(spec.key, spec.name, spec.value)

    def cleanup(self, spec: RegistryValue, target: str, writer: Writer, tag: str) -> None:
        return None


RESOURCE = RegistryValueResource()
