"""Playbook variables: typed values a playbook declares and its steps use as `${NAME}`.

    variables:
      protocol: {type: string, default: 'TLS 1.2', description: The SCHANNEL protocol key}
      enabled:  {type: integer, default: 1}
    steps:
      - registry_value:
          key: 'HKLM:\\...\\Protocols\\${protocol}\\Server'
          value: ${enabled}          # the whole value: it stays an integer

Values come from `--var NAME=VALUE` or `--var-file` (the command line), else the inventory's
(a server's own, its groups', then every server's), else the variable's default; a
variable a step uses that has neither is an error naming the place it is used. They are
substituted into the steps and preconditions before the playbook is validated (so a value is
checked by the kind's own rules, at the line that uses it), shown in the plan, and kept with
a saved plan. `$${NAME}` is the text `${NAME}` itself (a set writes its members' values so,
having put them in once: `escape`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from remediate.support import yamlsource
from remediate.support.errors import RemediateError

PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# a placeholder, or (with the first group `$`) the escaped text of one
TOKEN = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}")
NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


def as_text(value: str | int | bool) -> str:
    """A value as `--var` gives it (true/false for a boolean): how inventories, variable files and
    saved plans hand values on, to be typed again by the playbook's declaration."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def as_texts(values: dict[str, Any]) -> dict[str, str]:
    return {name: as_text(value) for name, value in values.items()}


class Variable(BaseModel):
    """A value the playbook's steps use as ${NAME}."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["string", "integer", "boolean"] = "string"
    default: str | int | bool | None = None
    description: str = Field(default="", description="What the value is, for `remediate show`.")


def _typed(name: str, kind: str, raw: Any, where: str) -> Any:
    if kind == "integer":
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise RemediateError(
                "variable-invalid", f"{where}: {name} must be an integer, not {raw!r}", "give a whole number"
            ) from None
    if kind == "boolean":
        text = str(raw).lower()
        if text not in ("true", "false"):
            raise RemediateError(
                "variable-invalid", f"{where}: {name} must be true or false, not {raw!r}", None
            )
        return text == "true"
    return str(raw)


def resolve(
    declared: dict[str, Any],
    given: dict[str, str],
    source: str,
    inventory: dict[str, str] | None = None,
    inventory_label: str = "the inventory's vars",
) -> dict[str, Any]:
    """The values: given (typed), else the inventory's, else defaults; a name given on the
    command line but not declared is an error (the inventory's may be for other playbooks)."""
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise RemediateError(
            "variable-unknown",
            f"{source} declares no variable {unknown[0]!r} (it declares: {', '.join(sorted(declared)) or 'none'})",
            "check the name given with --var or in --var-file",
        )
    values = {}
    for name, spec in declared.items():
        kind = spec.get("type", "string") if isinstance(spec, dict) else "string"
        if name in given:
            values[name] = _typed(name, kind, given[name], "--var")
        elif name in (inventory or {}):
            values[name] = _typed(name, kind, (inventory or {})[name], inventory_label)
        elif isinstance(spec, dict) and spec.get("default") is not None:
            values[name] = _typed(name, kind, spec["default"], f"{source}: the default of")
    return values


def substitute(
    document: yamlsource.Document,
    given: dict[str, str],
    inventory: dict[str, str] | None = None,
    inventory_label: str = "the inventory's vars",
) -> dict[str, Any]:
    """Put the values into the document's steps and preconditions (in place); the values used."""
    data = document.data
    declared = data.get("variables") or {}
    if not isinstance(declared, dict):
        return {}
    values = resolve(declared, given, document.source, inventory, inventory_label)
    used: dict[str, Any] = {}

    def visit(node: Any, location: tuple[Any, ...]) -> Any:
        if isinstance(node, dict):
            return {key: visit(value, (*location, key)) for key, value in node.items()}
        if isinstance(node, list):
            return [visit(value, (*location, index)) for index, value in enumerate(node)]
        if not isinstance(node, str) or "{" not in node:
            return node
        for escaped, name in TOKEN.findall(node):
            if escaped:
                continue
            where = document.where(location)
            if name not in declared:
                raise RemediateError(
                    "variable-unknown",
                    f"{where}: {yamlsource.path_text(location)}: no variable {name!r} is declared",
                    "declare it under 'variables'",
                )
            if name not in values:
                raise RemediateError(
                    "variable-missing",
                    f"{where}: {yamlsource.path_text(location)}: {name} has no value and no default",
                    f"give it: --var {name}=VALUE",
                )
            used[name] = values[name]
        whole = TOKEN.fullmatch(node)
        if whole and not whole.group(1):  # the whole scalar: the typed value itself
            return values[whole.group(2)]
        return TOKEN.sub(
            lambda match: match.group(0)[1:] if match.group(1) else str(values[match.group(2)]), node
        )

    for section in ("steps", "preconditions"):
        if section in data:
            data[section] = visit(data[section], (section,))
    return {**values, **used}


def escape(node: Any) -> Any:
    """`node` with every `${NAME}` in its texts written `$${NAME}`: values already put in, which
    `substitute` leaves as they are."""
    if isinstance(node, dict):
        return {key: escape(value) for key, value in node.items()}
    if isinstance(node, list):
        return [escape(value) for value in node]
    return PLACEHOLDER.sub(lambda match: "$" + match.group(0), node) if isinstance(node, str) else node


def from_file(path: Path) -> dict[str, str]:
    """The values a `--var-file` gives: a YAML mapping of names to text, numbers or true/false."""
    document = yamlsource.parse(
        yamlsource.read(path, "variable-file-invalid"), str(path), "variable-file-invalid"
    )
    if not isinstance(document.data, dict):
        raise RemediateError(
            "variable-file-invalid", f"{path}: a variables file is a mapping (NAME: VALUE per line)", None
        )
    values = {}
    for name, value in document.data.items():
        where = document.where((name,))
        if not isinstance(name, str) or not re.match(NAME, name):
            raise RemediateError("variable-file-invalid", f"{where}: {name!r} is not a variable name", None)
        if isinstance(value, (str, int)):  # a bool is an int
            values[name] = as_text(value)
        else:
            raise RemediateError(
                "variable-file-invalid",
                f"{where}: {name} must be text, a whole number or true/false, not {type(value).__name__}",
                None,
            )
    return values
