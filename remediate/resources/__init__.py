"""Resource kinds: what a playbook step can manage.

Every kind is one module with one object satisfying `Resource`, listed in `REGISTRY`.
Adding a kind is adding a module and a line here; the playbook model, its JSON Schema and
the planner pick it up from the registry.

A resource separates reading from deciding: `observe` reads the server through a `Reader`
(remote calls, nothing written), `decide` is pure and says what would change, with before
and after.
"""

from __future__ import annotations

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

    def exchange_object(self, noun: str, identity: str) -> dict[str, Any] | None:
        """`Get-<noun> -Identity <identity>`'s properties (multi-valued as lists of strings), or None."""
        ...

    def can_set(self, noun: str, parameter: str) -> bool:
        """Whether `Set-<noun> -<parameter>` is available through this Exchange session."""
        ...


@dataclass(frozen=True)
class Decision:
    """What a step would do to one target, decided from what was read."""

    target: str  # what is changed: a file path, or `PartnerApplication 'Microsoft Graph'.AppOnlyPermissions`
    changed: bool
    summary: str  # "adds V1S2SAppOnly" / "no change (V1S2SAppOnly already present)"
    before: Any = None
    after: Any = None
    diff: str | None = None  # unified diff, for files
    fingerprint: str = ""  # SHA-256 of what was read: the state the decision rests on
    payload: Any = None  # what applying needs (the new bytes, the new value)


class Resource(Protocol):
    kind: str
    spec: type[BaseModel]
    scopes: tuple[Scope, ...]  # allowed scopes, the default first

    def describe(self, spec: Any) -> str:
        """One line saying what the step manages."""
        ...

    def observe(self, spec: Any, reader: Reader) -> Any:
        """Read what the decision needs. Raises RemediateError for a state it cannot work with."""
        ...

    def decide(self, spec: Any, observed: Any) -> Decision:
        """Pure: what would change. Raises RemediateError when the change cannot be made."""
        ...


def _registry() -> dict[str, Resource]:
    from remediate.resources import exchange_object, xml_attribute, xml_token

    return {module.RESOURCE.kind: module.RESOURCE for module in (xml_token, xml_attribute, exchange_object)}


REGISTRY: dict[str, Resource] = _registry()
