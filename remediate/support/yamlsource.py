"""YAML documents that remember where every key and value came from.

Validation errors then name `file:line:column` and the path to the bad value
(`steps[1].xml_token.separator`), and suggest the nearest valid key for a typo.
"""

from __future__ import annotations

import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from remediate.support.errors import RemediateError

M = TypeVar("M", bound=BaseModel)

Location = tuple[int | str, ...]
MAX_DOCUMENT_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based


@dataclass
class Document:
    source: str  # a path, or a name for built-in text
    data: Any
    text: bytes
    values: dict[Location, Position] = field(default_factory=dict)
    keys: dict[Location, Position] = field(default_factory=dict)
    nodes: set[int] = field(default_factory=set)  # the nodes built so far: a second visit is an alias

    def position(self, location: Location, *, key: bool = False) -> Position | None:
        """Where `location` is; for a missing or unknown key, its nearest ancestor."""
        table = self.keys if key else self.values
        while location:
            if location in table:
                return table[location]
            if location in self.values:
                return self.values[location]
            location = location[:-1]
        return self.values.get(())

    def where(self, location: Location, *, key: bool = False) -> str:
        """`file:line:column` of `location` (the file alone when it has no position)."""
        position = self.position(location, key=key)
        return f"{self.source}:{position.line}:{position.column}" if position else self.source

    def error(self, reference: str, location: Location, message: str, hint: str | None) -> RemediateError:
        """An error at `location`: `file:line:column: path.to[0].it: message`."""
        return RemediateError(reference, f"{self.where(location)}: {path_text(location)}: {message}", hint)


def validated(model: type[M], document: Document, reference: str, hint: str) -> M:
    """`document` as `model`; its problems as one error, each at its file:line:column."""
    try:
        return model.model_validate(document.data or {})
    except ValidationError as error:
        raise validation_error(error, document, model, reference, hint) from None


def path_text(location: Location) -> str:
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _position(mark: yaml.Mark) -> Position:
    return Position(mark.line + 1, mark.column + 1)


def parse(text: bytes, source: str, reference: str) -> Document:
    """Parse YAML text; errors carry `reference` (e.g. `playbook-invalid`)."""
    if len(text) > MAX_DOCUMENT_BYTES:
        raise RemediateError(
            reference, f"{source}: larger than {MAX_DOCUMENT_BYTES} bytes", "is this the right file?"
        )
    try:
        decoded = text.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RemediateError(
            reference, f"{source}: not UTF-8 text ({error.reason})", "save the file as UTF-8"
        ) from None
    document = Document(source, None, text)
    try:
        loader = _LOADER(decoded)
    except yaml.reader.ReaderError as error:
        raise _reader_error(error, decoded, source, reference) from None
    try:
        node = loader.get_single_node()
        document.data = _build(loader, node, (), document, reference) if node is not None else None
    except yaml.reader.ReaderError as error:
        raise _reader_error(error, decoded, source, reference) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise RemediateError(
            reference, f"{where}: not valid YAML: {error.problem or error.context}", "fix the YAML syntax"
        ) from None
    except yaml.YAMLError as error:
        raise RemediateError(reference, f"{source}: not valid YAML: {error}", "fix the YAML syntax") from None
    finally:
        loader.dispose()
    return document


def _reader_error(error: yaml.reader.ReaderError, text: str, source: str, reference: str) -> RemediateError:
    """A control character YAML does not allow, where it is."""
    position = max(0, min(error.position, len(text)))
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    character = chr(error.character) if isinstance(error.character, int) else error.character
    return RemediateError(
        reference,
        f"{source}:{line}:{column}: not valid YAML: character {character!r} is not allowed",
        "remove the control character (YAML allows tab, newline and printable text)",
    )


# libyaml's parser when PyYAML was built with it (several times faster), with the same marks.
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _build(
    loader: yaml.SafeLoader, node: yaml.Node, location: Location, document: Document, reference: str
) -> Any:
    if id(node) in document.nodes:
        # An alias (*name) makes the composed graph reuse a node: a few lines can expand to
        # gigabytes ("billion laughs") or loop. remediate's files never need one.
        raise RemediateError(
            reference,
            f"{document.where(location, key=True)}: {path_text(location) or 'the document'}: YAML aliases are "
            f"not allowed (this "
            f"repeats the value anchored at {_where(node)})",
            "write the value out in full instead of using &anchor and *alias",
        )
    document.nodes.add(id(node))
    document.values[location] = _position(node.start_mark)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int)):
                raise RemediateError(
                    reference,
                    f"{document.source}:{_where(key_node)}: keys must be text, not {type(key).__name__}",
                    "quote the key",
                )
            if key in result:
                raise RemediateError(
                    reference,
                    f"{document.source}:{_where(key_node)}: duplicate key '{key}' in {path_text(location) or 'the document'}",
                    "keep one of them",
                )
            document.keys[(*location, key)] = _position(key_node.start_mark)
            result[key] = _build(loader, value_node, (*location, key), document, reference)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(loader, child, (*location, index), document, reference)
            for index, child in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


def _where(node: yaml.Node) -> str:
    return f"{node.start_mark.line + 1}:{node.start_mark.column + 1}"


# -- validation errors --------------------------------------------------------------------------

_SHAPES = frozenset({"int", "str", "float", "bool", "list", "dict", "function-after", "literal", "none"})


def _clean(location: tuple[int | str, ...]) -> Location:
    # pydantic names the shapes it tried inside unions ("list[Server]", "int"): not keys.
    return tuple(p for p in location if not (isinstance(p, str) and (p in _SHAPES or "[" in p)))


def _unwrap(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType, list, tuple, dict):
        found = []
        for argument in typing.get_args(annotation):
            found.extend(_unwrap(argument))
        return found
    return [annotation]


def _is_mapping(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin is dict:
        return True
    if origin in (typing.Annotated, typing.Union, types.UnionType):
        return any(_is_mapping(argument) for argument in typing.get_args(annotation))
    return False


def _models_at(model: type[BaseModel], location: Location) -> list[type[BaseModel]]:
    models: list[type[BaseModel]] = [model]
    key_follows = False  # the part after a mapping field is one of its keys (a server's name), not a field
    for part in location:
        if isinstance(part, int) or key_follows:
            key_follows = False
            continue
        following: list[type[BaseModel]] = []
        for current in models:
            info = current.model_fields.get(str(part))
            if info is None:
                continue
            key_follows = key_follows or _is_mapping(info.annotation)
            following.extend(
                c for c in _unwrap(info.annotation) if isinstance(c, type) and issubclass(c, BaseModel)
            )
        models = following
    return models


def suggestion(model: type[BaseModel], location: Location) -> str | None:
    """For an unknown key at `location`, the nearest valid key."""
    if not location or not isinstance(location[-1], str):
        return None
    valid = [name for m in _models_at(model, location[:-1]) for name in m.model_fields]
    close = difflib.get_close_matches(str(location[-1]), valid, n=1, cutoff=0.6)
    return close[0] if close else None


def validation_error(
    error: ValidationError, document: Document, model: type[BaseModel], reference: str, hint: str
) -> RemediateError:
    """One error naming every problem pydantic found, each at its file:line:column: the most
    specific first (its hint is the error's), then the others in the document's order. A
    problem on the way to another (another shape the value could have taken) is not news."""
    problems = error.errors()
    # the most specific first; of equals, an unknown key (it is often a misspelt required one)
    ranked = sorted(
        problems, key=lambda item: (len(_clean(item["loc"])), item["type"] == "extra_forbidden"), reverse=True
    )
    chosen: list[Any] = []
    for candidate in ranked:
        location = _clean(candidate["loc"])
        if any(_clean(kept["loc"])[: len(location)] == location for kept in chosen):
            continue
        chosen.append(candidate)
    described = [_described(item, document, model) for item in chosen]
    first, first_hint, _ = described[0]
    rest = sorted(described[1:], key=lambda item: item[2])
    message = first + "".join(f"\n    also {text}" for text, _, _ in rest)
    return RemediateError(reference, message, first_hint or hint)


def _described(
    problem: Any, document: Document, model: type[BaseModel]
) -> tuple[str, str | None, tuple[int, int]]:
    """One problem as `file:line:column: at: what`, its hint, and its position (for ordering)."""
    unknown_key = problem["type"] == "extra_forbidden" and bool(problem["loc"])
    # an unknown key is the last part of its location, whatever it looks like ("list[x]")
    location = (
        _clean(problem["loc"][:-1]) + tuple(problem["loc"][-1:]) if unknown_key else _clean(problem["loc"])
    )
    position = document.position(location, key=unknown_key)
    where = document.where(location, key=unknown_key)
    message = problem["msg"].removeprefix("Value error, ")
    hint = None
    if unknown_key:
        message = f"unknown key '{location[-1]}'"
        nearest = suggestion(model, location)
        if nearest:
            hint = f"did you mean '{nearest}'?"
    elif problem["type"] == "missing" and location:
        message = f"'{location[-1]}' is required"
    at = path_text(location)
    order = (position.line, position.column) if position else (0, 0)
    return f"{where}: {at + ': ' if at else ''}{message}", hint, order


def read(path: Path, reference: str) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as error:
        raise RemediateError(reference, f"cannot read {path}: {error.strerror}", "check the path") from None
