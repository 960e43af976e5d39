"""Playbooks: a fix described as data.

    name: app-only-graph
    description: ...
    preconditions: [{exchange_build: {minimum: 15.1.544.27}}]
    steps:
      - name: ...
        xml_token: {...}          # exactly one resource kind per step
        notify: [restart-iis]
    handlers:
      - name: restart-iis
        restart_iis: {}

The step, handler and precondition models are built from their registries, so a new kind
appears in validation and in the JSON Schema (`remediate schema`) without touching this file.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    create_model,
    model_validator,
)

from remediate.kinds import handlers as handler_kinds
from remediate.kinds import preconditions as precondition_kinds
from remediate.kinds.preconditions import Check
from remediate.kinds.resources import REGISTRY, Resource, Scope
from remediate.model.catalog import INVALID, locate
from remediate.model.variables import Variable
from remediate.support import yamlsource
from remediate.support.errors import RemediateError


class _OneKind(BaseModel):
    """A mapping that holds exactly one of several kinds (`xml_token: {...}`)."""

    model_config = ConfigDict(extra="forbid")
    KINDS: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _exactly_one(self) -> _OneKind:
        chosen = [kind for kind in self.KINDS if getattr(self, kind) is not None]
        if len(chosen) != 1:
            also = f" (it has {' and '.join(chosen)})" if chosen else ""
            raise ValueError(f"needs exactly one of: {', '.join(self.KINDS)}{also}")
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in self.KINDS if getattr(self, kind) is not None)

    @property
    def settings(self) -> Any:
        return getattr(self, self.kind)


class _Limited(_OneKind):
    """A step or precondition that a playbook set may limit to some servers."""

    servers: list[Annotated[str, StringConstraints(min_length=1)]] | None = Field(
        default=None,
        min_length=1,
        description="Only on these servers (as the run names them); default: every server of the run. "
        "A playbook set's `servers` sets it.",
    )

    def runs_on(self, server: str) -> bool:
        return self.servers is None or server.lower() in {name.lower() for name in self.servers}


class StepBase(_Limited):
    name: str = Field(min_length=1, description="What the step does, for people: it is shown in plans.")
    scope: Scope | None = Field(
        default=None, description="server: on every server; organization: once, through one server."
    )
    notify: list[str] = Field(default=[], description="Handlers to run when this step changes something.")

    @model_validator(mode="after")
    def _scope_allowed(self) -> StepBase:
        allowed = REGISTRY[self.kind].scopes
        if self.scope is not None and self.scope not in allowed:
            raise ValueError(f"{self.kind} steps run at scope {' or '.join(allowed)}, not {self.scope}")
        if self.servers is not None and self.effective_scope == "organization":
            raise ValueError("an organization-wide step runs once for the organization: it takes no servers")
        return self

    @property
    def resource(self) -> Resource:
        return REGISTRY[self.kind]

    @property
    def effective_scope(self) -> Scope:
        return self.scope or self.resource.scopes[0]


class HandlerBase(_OneKind):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", description="Steps notify the handler by this name.")


class PreconditionBase(_Limited):
    def check(self, reader: Any, server: str) -> Check:
        """The check on `server` (one it is not for passes without reading: `applies` False)."""
        kind = precondition_kinds.REGISTRY[self.kind]
        if not self.runs_on(server):
            return Check(kind.label(self.settings), None, applies=False)
        return kind.check(self.settings, reader)

    @property
    def hint(self) -> str:
        return precondition_kinds.REGISTRY[self.kind].hint

    def describe(self) -> str:
        """What must hold, for people (`remediate show`)."""
        kind = precondition_kinds.REGISTRY[self.kind]
        described = getattr(kind, "describe", None)
        if described is not None:
            return str(described(self.settings))
        return ", ".join(f"{k} {v}" for k, v in self.settings.model_dump(exclude_none=True).items())


def _one_kind_model(name: str, base: type[_OneKind], kinds: dict[str, type[BaseModel]]) -> type[_OneKind]:
    fields: dict[str, Any] = {
        kind: (spec | None, Field(default=None, description=(spec.__doc__ or "").strip()))
        for kind, spec in kinds.items()
    }
    model = create_model(name, __base__=base, **fields)
    model.KINDS = tuple(kinds)
    return model


if TYPE_CHECKING:  # mypy sees the bases; pydantic validates with the registry-built models
    Step = StepBase
    Handler = HandlerBase
    Precondition = PreconditionBase
else:
    Step = _one_kind_model("Step", StepBase, {kind: resource.spec for kind, resource in REGISTRY.items()})
    Handler = _one_kind_model(
        "Handler", HandlerBase, {kind: h.spec for kind, h in handler_kinds.REGISTRY.items()}
    )
    Precondition = _one_kind_model(
        "Precondition", PreconditionBase, {kind: p.spec for kind, p in precondition_kinds.REGISTRY.items()}
    )


class Playbook(BaseModel):
    """A remediate playbook."""

    model_config = ConfigDict(extra="forbid", title="remediate playbook")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = Field(min_length=1)
    notice: str | None = Field(default=None, description="Shown above every plan (support status, risks).")
    microsoft_source: str | None = Field(
        default=None, description="Where Microsoft documents this fix (a document, a script, a KB article)."
    )
    support: Literal["supported", "documented", "unsupported"] | None = Field(
        default=None,
        description="supported: a setting Microsoft supports; documented: a repair Microsoft documents; "
        "unsupported: outside what Microsoft supports (say why in the notice).",
    )
    variables: dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], Variable] = Field(
        default={},
        description="Values the steps use as ${NAME}: given with --var NAME=VALUE, else the default.",
    )
    preconditions: list[Precondition] = Field(default=[])
    steps: list[Step] = Field(min_length=1)
    handlers: list[Handler] = Field(default=[])


@dataclass(frozen=True)
class LoadedPlaybook:
    playbook: Playbook
    source: str  # the file, or `built-in:<name>`
    digest: str  # SHA-256 of the file's bytes
    text: bytes = b""  # the file's bytes, which saved plans carry
    variables: dict[str, Any] = field(default_factory=dict)  # the values its steps were given

    @property
    def name(self) -> str:
        return self.playbook.name


def _check_references(playbook: Playbook, document: yamlsource.Document) -> None:
    def fail(location: yamlsource.Location, message: str, hint: str) -> RemediateError:
        return document.error(INVALID, location, message, hint)

    handler_names = [handler.name for handler in playbook.handlers]
    for kind, names in (("step", [step.name for step in playbook.steps]), ("handler", handler_names)):
        seen: set[str] = set()
        for index, name in enumerate(names):
            if name in seen:
                raise fail(
                    (f"{kind}s", index, "name"),
                    f"a second {kind} named {name!r}",
                    f"give each {kind} its own name",
                )
            seen.add(name)
    for index, step in enumerate(playbook.steps):
        for position, name in enumerate(step.notify):
            if name not in handler_names:
                close = difflib.get_close_matches(name, handler_names, n=1)
                hint = (
                    f"did you mean {close[0]!r}?"
                    if close
                    else "add the handler under 'handlers', or fix the name"
                )
                raise fail(("steps", index, "notify", position), f"no handler named {name!r}", hint)


def _check_servers(
    playbook: Playbook, document: yamlsource.Document, resolve: Callable[[str], list[str] | None]
) -> None:
    for section, items in (("preconditions", playbook.preconditions), ("steps", playbook.steps)):
        for index, item in enumerate(items):
            for position, name in enumerate(item.servers or []):
                found = resolve(name)
                if found is not None and [s.lower() for s in found] == [name.lower()]:
                    continue
                raise document.error(
                    INVALID,
                    (section, index, "servers", position),
                    f"{name!r} is not a server of this run or its inventory"
                    + (" (it is a group)" if found is not None else ""),
                    "name servers as the inventory (or --host) does; a playbook set's `servers` may "
                    "name groups",
                )


def parse(
    text: bytes,
    source: str,
    given: dict[str, str] | None = None,
    inventory: dict[str, str] | None = None,
    inventory_label: str = "the inventory's vars",
    resolve: Callable[[str], list[str] | None] | None = None,
) -> LoadedPlaybook:
    """A playbook from its text, with `given` variable values (`--var`) put into its steps;
    with `resolve` (planning: what the run's servers and inventory know), every name under a
    step's or precondition's `servers` must be a server."""
    from remediate.model.variables import substitute

    document = yamlsource.parse(text, source, INVALID)
    if not isinstance(document.data, dict):
        raise RemediateError(
            INVALID,
            f"{source}: a playbook is a mapping (name, description, steps, ...)",
            "see `remediate schema`",
        )
    values = substitute(document, given or {}, inventory, inventory_label)
    playbook = yamlsource.validated(Playbook, document, INVALID, "see `remediate schema`")
    _check_references(playbook, document)
    if resolve is not None:
        _check_servers(playbook, document, resolve)
    return LoadedPlaybook(playbook, source, hashlib.sha256(text).hexdigest(), text, values)


def load(name_or_path: str, given: dict[str, str] | None = None) -> LoadedPlaybook:
    """A built-in playbook by name, or a playbook file by path."""
    return load_located(locate(name_or_path), given)


def load_located(
    located: tuple[Path, str],
    given: dict[str, str] | None = None,
    inventory: dict[str, str] | None = None,
    inventory_label: str = "the inventory's vars",
    resolve: Callable[[str], list[str] | None] | None = None,
) -> LoadedPlaybook:
    """The playbook `catalog.locate` found (so that a command resolves the name once); a set
    (`remediate.model.playbook_set`) compiled into one playbook, its `servers` taken as named."""
    path, source = located
    text = read_located(located)
    from remediate.model import playbook_set

    if playbook_set.is_set(text):
        playbook_set.refuse_given(given)
        return playbook_set.parse_set(text, path, source)
    return parse(text, source, given, inventory, inventory_label, resolve)


def read_located(located: tuple[Path, str]) -> bytes:
    return yamlsource.read(located[0], INVALID)


def json_schema() -> dict[str, Any]:
    schema = Playbook.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
