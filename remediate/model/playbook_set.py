"""Playbook sets: several playbooks applied as one run (lab rebuilds, cumulative-update days).

    name: hybrid-lab-baseline
    description: ...
    playbooks:
      - playbook: tls12                    # a built-in name, or a path (relative to this file)
      - playbook: app-only-graph
      - playbook: ./site/owa-fix.yaml
        vars: {URL: https://mail.contoso.com}
        servers: [ex01, frontends]         # servers or inventory groups; default: every server

A set is compiled into one playbook, and from there everything is as for a playbook: one
preflight, one plan, one journal run, one rollback, saved plans, records, reports. The
compiled playbook is kept as YAML text (the saved plan and the run's record carry it), so a
rollback weeks later knows exactly what ran even if a member file changed since:

- steps in set order, each named `<playbook>: <step>`, limited to the member's servers;
- handlers merged by what they do: two that do the same (`restart_iis: {}`) are one, so IIS
  restarts once per server after every step of every playbook; two of one name that do
  different things keep both, the later one named `<playbook>-<handler>`;
- preconditions of every member (each once), limited like its steps to the member's servers;
- the notice and Microsoft source of each member, named; the weakest support status.

Two members changing one target to different values are refused when planning
(`engine.decide`: `steps-conflict`), naming both steps.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from remediate.model.catalog import INVALID, locate
from remediate.model.playbook import LoadedPlaybook, load_located, parse
from remediate.model.variables import as_texts, escape
from remediate.support import yamlsource
from remediate.support.errors import RemediateError

_SUPPORT_ORDER = ("supported", "documented", "unsupported")


class Member(BaseModel):
    """One playbook of a set."""

    model_config = ConfigDict(extra="forbid")
    playbook: str = Field(
        min_length=1, description="A built-in playbook's name, or a playbook file (relative to the set)."
    )
    vars: dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], str | int | bool] = (
        Field(default={}, description="Values for the playbook's variables (as --var gives them).")
    )
    servers: list[Annotated[str, StringConstraints(min_length=1)]] | None = Field(
        default=None,
        min_length=1,
        description="Only on these servers or inventory groups; default: every server of the run.",
    )


class PlaybookSet(BaseModel):
    """A remediate playbook set: playbooks applied as one run."""

    model_config = ConfigDict(extra="forbid", title="remediate playbook set")
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    description: str = Field(min_length=1)
    playbooks: list[Member] = Field(min_length=1)


def is_set(text: bytes) -> bool:
    """Whether a playbook file is a set (it lists `playbooks:`), read without the model."""
    try:
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return False  # the playbook parser reports it, with its place
    return isinstance(data, dict) and "playbooks" in data and "steps" not in data


def refuse_given(given: dict[str, str] | None) -> None:
    if given:
        raise RemediateError(
            "set-variables",
            f"--var {', '.join(sorted(given))}: a set gives its playbooks' values in the set file",
            "put them under the playbook's entry in the set: `vars: {NAME: value}`",
        )


# What `servers` may name, and how: a name -> the servers it stands for (a group's members),
# or None when the name is unknown. Without an inventory, only the run's servers are known.
Resolver = Callable[[str], list[str] | None]


def parse_set(text: bytes, path: Path, source: str, resolve: Resolver | None = None) -> LoadedPlaybook:
    """The set in `text` (read from `path`), compiled into one playbook."""
    document = yamlsource.parse(text, source, INVALID)
    playbook_set = yamlsource.validated(PlaybookSet, document, INVALID, "see `remediate schema --output set`")

    def fail(location: tuple[Any, ...], message: str, hint: str) -> RemediateError:
        return document.error(INVALID, location, message, hint)

    def within(location: tuple[Any, ...], error: RemediateError) -> RemediateError:
        """A member's error, prefixed with where the set names that member."""
        return document.error(error.reference, location, error.message, error.hint)

    members: list[tuple[LoadedPlaybook, list[str] | None]] = []
    seen: dict[str, int] = {}
    for index, member in enumerate(playbook_set.playbooks):
        try:
            located = locate(_relative(member.playbook, path))
            member_text = yamlsource.read(located[0], INVALID)
        except RemediateError as error:
            raise within(("playbooks", index, "playbook"), error) from None
        if is_set(member_text):
            raise fail(
                ("playbooks", index, "playbook"),
                f"{member.playbook} is a set: a set lists playbooks, not sets",
                "list that set's playbooks here instead",
            )
        try:
            loaded = load_located(located, as_texts(member.vars))
        except RemediateError as error:
            raise within(("playbooks", index), error) from None
        if loaded.name in seen:
            raise fail(
                ("playbooks", index, "playbook"),
                f"playbook {loaded.name!r} is already in this set (entry {seen[loaded.name] + 1})",
                "list each playbook once; limit it with `servers` if it is not for every server",
            )
        seen[loaded.name] = index
        servers: list[str] | None = None
        if member.servers is not None:
            servers = []
            for position, name in enumerate(member.servers):
                found = resolve(name) if resolve is not None else [name]
                if found is None:
                    raise fail(
                        ("playbooks", index, "servers", position),
                        f"{name!r} is neither a server nor a group of this run",
                        "name servers as the inventory (or --host) does, or an inventory group",
                    )
                if not found:
                    raise fail(
                        ("playbooks", index, "servers", position),
                        f"group {name!r} has no servers",
                        "add servers to the group in the inventory, or leave this playbook out",
                    )
                servers.extend(s for s in found if s not in servers)
        members.append((loaded, servers))

    merged = _merge(playbook_set, members)
    compiled = yaml.dump(merged, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100).encode(
        "utf-8"
    )
    return parse(compiled, source)  # its digest is of the compiled text, which saved plans carry


class _Dumper(yaml.SafeDumper):
    """Every value written out: playbooks refuse YAML aliases, which a value used twice (one
    member's `servers` on each of its steps) would otherwise become."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _relative(name: str, path: Path) -> str:
    """A member named by a relative path is found beside the set file."""
    if "/" in name or "\\" in name or name.endswith((".yaml", ".yml")):
        candidate = Path(name)
        return str(candidate if candidate.is_absolute() else path.parent / candidate)
    return name


def _merge(
    playbook_set: PlaybookSet, members: list[tuple[LoadedPlaybook, list[str] | None]]
) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    handlers: list[dict[str, Any]] = []
    by_action: dict[str, str] = {}  # what a handler does (JSON) -> its name in the set
    preconditions: list[dict[str, Any]] = []
    notices, sources, supports = [], [], []
    for loaded, servers in members:
        playbook = loaded.playbook
        renamed: dict[str, str] = {}
        # the member's handlers keep their order among the set's: one it has before a handler
        # the set already has (refresh, then restart IIS) goes in before that one
        pending: list[dict[str, Any]] = []
        cursor = 0
        for handler in playbook.handlers:
            dumped = handler.model_dump(mode="json", exclude_unset=True)
            action = json.dumps({k: v for k, v in dumped.items() if k != "name"}, sort_keys=True)
            if action in by_action:
                renamed[handler.name] = by_action[action]
                at = max(cursor, next(i for i, h in enumerate(handlers) if h["name"] == by_action[action]))
                handlers[at:at] = pending
                cursor, pending = at + len(pending) + 1, []
                continue
            taken = {h["name"] for h in handlers + pending}
            name, number = handler.name, 1
            while name in taken:  # a handler of that name that does something else
                name = f"{loaded.name}-{handler.name}" + (f"-{number}" if number > 1 else "")
                number += 1
            by_action[action] = renamed[handler.name] = name
            pending.append({**dumped, "name": name})
        handlers.extend(pending)
        for precondition in playbook.preconditions:
            _add_precondition(
                preconditions, escape(precondition.model_dump(mode="json", exclude_unset=True)), servers
            )
        for step in playbook.steps:
            dumped = escape(step.model_dump(mode="json", exclude_unset=True))
            dumped["name"] = escape(f"{loaded.name}: {step.name}")
            if step.notify:
                dumped["notify"] = [renamed[name] for name in step.notify]
            if servers is not None and step.effective_scope == "server":
                dumped["servers"] = list(servers)
            steps.append(dumped)
        if playbook.notice:
            notices.append(f"{loaded.name}: {playbook.notice.strip()}")
        if playbook.microsoft_source:
            sources.append(f"{loaded.name}: {playbook.microsoft_source}")
        if playbook.support:
            supports.append(playbook.support)
    merged: dict[str, Any] = {
        "name": playbook_set.name,
        "description": playbook_set.description.strip()
        + "\n\nPlaybooks, in order: "
        + ", ".join(loaded.name for loaded, _ in members)
        + ".",
    }
    if notices:
        merged["notice"] = "\n\n".join(notices)
    if sources:
        merged["microsoft_source"] = "; ".join(sources)
    if supports:
        merged["support"] = max(supports, key=_SUPPORT_ORDER.index)
    if preconditions:
        merged["preconditions"] = preconditions
    merged["steps"] = steps
    if handlers:
        merged["handlers"] = handlers
    return merged


def _add_precondition(
    preconditions: list[dict[str, Any]], dumped: dict[str, Any], servers: list[str] | None
) -> None:
    """A member's precondition, for the member's servers: one that an earlier member has too is
    kept once, for the servers of both."""
    for existing in preconditions:
        if {k: v for k, v in existing.items() if k != "servers"} != dumped:
            continue
        if servers is None or "servers" not in existing:
            existing.pop("servers", None)
        else:
            existing["servers"] = existing["servers"] + [s for s in servers if s not in existing["servers"]]
        return
    preconditions.append(dumped if servers is None else {**dumped, "servers": list(servers)})


def json_schema() -> dict[str, Any]:
    schema = PlaybookSet.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema
