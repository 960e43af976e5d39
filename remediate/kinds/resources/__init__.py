"""Resource kinds: what a playbook step can manage.

Every kind is one module with one object satisfying `Resource`, listed in `REGISTRY`.
Adding a kind is adding a module and a line here; the playbook model, its JSON Schema and
the planner pick it up from the registry.

A resource separates reading from deciding: `observe` reads the server through a `Reader`
(remote calls, nothing written), `decide` is pure and says what would change, with before
and after. Planning stops there. Applying and rolling back work on a target's exact *state*
(a file's bytes; a property's value as JSON): read it, write it through a `Writer` (which
only the executor holds), compare two states, compute the semantic inverse of a change.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel

Scope = Literal["server", "organization"]


class Reader(Protocol):
    """What resources may read from a server. Every read is a real cmdlet; none writes."""

    def expand(self, path: str) -> str:
        """`%Name%` environment variables expanded with the server's values."""
        ...

    def read_file(self, path: str) -> bytes | None:
        """A file's exact bytes, or None when it does not exist."""
        ...

    def file_hash(self, path: str) -> str | None:
        """A file's SHA-256 (lower-case hex) computed on the server, or None when it does not
        exist: checks a file's bytes without sending them."""
        ...

    def exchange_object(self, noun: str, identity: str) -> dict[str, Any] | None:
        """`Get-<noun> -Identity <identity>`'s properties (multi-valued as lists of strings), or None."""
        ...

    def can_set(self, noun: str, parameter: str) -> bool:
        """Whether `Set-<noun> -<parameter>` is available through this Exchange session."""
        ...

    def registry_values(self, key: str) -> dict[str, Any] | None:
        """A registry key's values (name -> value), or None when the key does not exist."""
        ...


class Overlay:
    """A Reader that sees the changes planned so far, so that two steps on one target are
    decided in order (the second on the first one's result), never on the same old state."""

    def __init__(self, reader: Reader) -> None:
        self._reader = reader
        self._files: dict[str, bytes] = {}
        self._properties: dict[tuple[str, str], dict[str, Any]] = {}
        self._objects: dict[tuple[str, str], dict[str, Any]] = {}  # created whole
        self._registry: dict[str, dict[str, Any]] = {}  # key -> values planned (a key created: {})

    def expand(self, path: str) -> str:
        return self._reader.expand(path)

    def read_file(self, path: str) -> bytes | None:
        return self._files.get(path.lower()) or self._reader.read_file(path)

    def file_hash(self, path: str) -> str | None:
        planned = self._files.get(path.lower())
        return hashlib.sha256(planned).hexdigest() if planned is not None else self._reader.file_hash(path)

    def exchange_object(self, noun: str, identity: str) -> dict[str, Any] | None:
        created = self._objects.get((noun.lower(), identity.lower()))
        found = created if created is not None else self._reader.exchange_object(noun, identity)
        planned = self._properties.get((noun.lower(), identity.lower()))
        return {**found, **planned} if found is not None and planned else found

    def can_set(self, noun: str, parameter: str) -> bool:
        return self._reader.can_set(noun, parameter)

    def registry_values(self, key: str) -> dict[str, Any] | None:
        found = self._reader.registry_values(key)
        planned = self._registry.get(key.lower())
        return found if planned is None else {**(found or {}), **planned}

    def plan_file(self, path: str, content: bytes) -> None:
        self._files[path.lower()] = content

    def plan_property(self, noun: str, identity: str, name: str, value: Any) -> None:
        self._properties.setdefault((noun.lower(), identity.lower()), {})[name] = value

    def plan_object(self, noun: str, identity: str, properties: dict[str, Any]) -> None:
        """An Exchange object a step creates, as `Get-<noun>` would then show it."""
        self._objects[(noun.lower(), identity.lower())] = properties

    def plan_registry(self, key: str, name: str | None = None, value: Any = None) -> None:
        """A registry key a step creates (`name` None), or a value it sets."""
        values = self._registry.setdefault(key.lower(), {})
        if name is not None:
            values[name] = value


class Writer(Protocol):
    """The writes resources may make. Every one is a real cmdlet with bound parameters."""

    def replace_file(self, path: str, content: bytes, tag: str) -> str | None:
        """Write `content` beside `path`, check it, then replace `path` with it in one step;
        the SHA-256 `path` has afterwards (read in the same request as the move)."""
        ...

    def set_property(self, noun: str, identity: str, name: str, value: Any) -> None:
        """`Set-<noun> -Identity <identity> -<name> <value>`."""
        ...

    def remove_file(self, path: str) -> None:
        """Remove a file if it exists."""
        ...

    def new_registry_key(self, key: str) -> None: ...

    def new_registry_value(self, key: str, name: str, value: Any, kind: str) -> None: ...

    def set_registry_value(self, key: str, name: str, value: Any) -> None: ...

    def remove_registry_value(self, key: str, name: str) -> None: ...

    def remove_registry_key(self, key: str) -> bool: ...

    def new_setting_override(
        self, name: str, component: str, section: str, parameters: list[str], reason: str
    ) -> None: ...

    def remove_setting_override(self, name: str) -> None: ...


@dataclass(frozen=True)
class Decision:
    """What a step would do to one target, decided from what was read."""

    target: str  # what is changed: a file path, or `PartnerApplication 'Microsoft Graph'.AppOnlyPermissions`
    changed: bool
    summary: str  # "adds V1S2SAppOnly" / "no change (V1S2SAppOnly already present)"
    before: Any = None
    after: Any = None
    diff: str | None = None  # unified diff, for files
    fingerprint: str = ""  # SHA-256 of the state read: what the decision rests on
    before_state: bytes = b""  # the target's exact state now
    after_state: bytes = b""  # the exact state applying writes


class Resource(Protocol):
    kind: str
    spec: type[BaseModel]
    scopes: tuple[Scope, ...]  # allowed scopes, the default first
    uses_exchange: bool  # reads or writes through the Exchange access (snap-in or /PowerShell)

    def describe(self, spec: Any) -> str:
        """One line saying what the step manages."""
        ...

    def observe(self, spec: Any, reader: Reader) -> Any:
        """Read what the decision needs. Raises RemediateError for a state it cannot work with."""
        ...

    def decide(self, spec: Any, observed: Any) -> Decision:
        """Pure: what would change. Raises RemediateError when the change cannot be made."""
        ...

    def state(self, spec: Any, target: str, reader: Reader) -> bytes:
        """The target's exact state now (read afresh)."""
        ...

    def same(self, spec: Any, one: bytes, other: bytes) -> bool:
        """Whether two states are the same as far as the target's owner is concerned."""
        ...

    def holds(self, spec: Any, target: str, wanted: bytes, reader: Reader) -> bool:
        """Whether the target holds `wanted` now (read afresh): `same(state(...), wanted)`, or
        cheaper where the server can compare (a file's SHA-256, not its bytes)."""
        ...

    def write(self, spec: Any, target: str, state: bytes, writer: Writer, tag: str) -> bool | None:
        """Make the target hold exactly `state`. Whether it does, when the write read that back
        itself (a file's SHA-256, in the request that moved it into place); None: not checked,
        the caller asks `holds`."""
        ...

    def copy_source(self, spec: Any, target: str) -> str | None:
        """A file on the server holding the target's exact state, which its snapshot can be
        copied from there (a file target itself); None: the snapshot is written from the state."""
        ...

    def inverse(self, spec: Any, before: bytes, after: bytes, current: bytes) -> bytes:
        """Undo only this change (before -> after) on `current`, which someone changed since."""
        ...

    def remember(self, spec: Any, decision: Decision, overlay: Overlay) -> None:
        """Let later steps' reads through `overlay` see this planned change."""
        ...

    def cleanup(self, spec: Any, target: str, writer: Writer, tag: str) -> None:
        """Remove what an interrupted write may have left (a temporary file)."""
        ...


class _Stateful(Protocol):
    def state(self, spec: Any, target: str, reader: Reader) -> bytes: ...

    def same(self, spec: Any, one: bytes, other: bytes) -> bool: ...


def holds_state(resource: _Stateful, spec: Any, target: str, wanted: bytes, reader: Reader) -> bool:
    """`Resource.holds` for a target whose state is small: read it and compare."""
    return resource.same(spec, resource.state(spec, target, reader), wanted)


def _registry() -> dict[str, Resource]:
    from remediate.kinds.resources import (
        exchange_object,
        exchange_setting_override,
        registry_value,
        text_replace,
        xml_attribute,
        xml_attributes,
        xml_token,
    )

    modules = (
        xml_token,
        xml_attribute,
        xml_attributes,
        text_replace,
        registry_value,
        exchange_object,
        exchange_setting_override,
    )
    return {module.RESOURCE.kind: module.RESOURCE for module in modules}


REGISTRY: dict[str, Resource] = _registry()
