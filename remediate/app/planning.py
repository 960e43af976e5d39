"""Use cases `plan` and `check`: load a playbook, reach the servers, read, decide. Nothing
here writes to a server; a saved plan is written to a file of the operator's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from remediate.app.fleet import Fleet
from remediate.model.plan import Plan
from remediate.model.playbook import LoadedPlaybook
from remediate.support.errors import RemediateError


@dataclass
class Planned:
    """A plan, what it was made from, and the servers it was made on (their sessions open)."""

    plan: Plan
    playbook: LoadedPlaybook
    fleet: Fleet
    hosts: dict[str, Any]  # how to reach the servers again: for the journal and saved plans


@contextmanager
def planned(
    playbook_name: str,
    open_fleet: Callable[[], Fleet],
    given: list[str],
    variables: dict[str, str] | None = None,
    forks: int = 50,
) -> Iterator[Planned]:
    """Plan `playbook_name` on the fleet `open_fleet` makes; the fleet is closed at the end.

    A mistyped playbook name fails before anything else; a broken playbook before a problem
    with the servers (it is the first thing to fix); connections start opening while the
    playbook is validated."""
    from remediate.model import catalog

    located = catalog.locate(playbook_name)  # the one place the name is resolved
    try:
        fleet = open_fleet()
    except RemediateError:
        from remediate.model import playbook

        try:
            playbook.load_located(located, variables)
        except RemediateError as error:
            if error.reference != "variable-missing":  # the inventory may have had the value
                raise
        raise
    with fleet:
        fleet.connect_ahead()
        from remediate.engine.attribution import attribute
        from remediate.engine.decide import make_plan
        from remediate.model import playbook, playbook_set

        text = playbook.read_located(located)
        if playbook_set.is_set(text):
            # a set's playbooks take their values from the set file; its `servers` name the
            # run's servers or the inventory's groups
            playbook_set.refuse_given(variables)
            loaded = playbook_set.parse_set(text, located[0], located[1], fleet.resolve)
            own: dict[str, LoadedPlaybook] = {}
        else:
            loaded, own = _with_values(located, variables, fleet)
        the_plan = attribute(
            make_plan(loaded, list(fleet.readers().values()), forks, own=own), fleet.sessions, forks
        )
        yield Planned(the_plan, loaded, fleet, fleet.meta(given))


def _with_values(
    located: tuple[Path, str], variables: dict[str, str] | None, fleet: Fleet
) -> tuple[LoadedPlaybook, dict[str, LoadedPlaybook]]:
    """The playbook with the command line's values (--var), else the inventory's (a server's,
    its groups', everyone's), else the defaults; and the servers that have values of their own."""
    from remediate.model import playbook

    own = {
        server: playbook.load_located(
            located,
            variables,
            {**fleet.variables, **values},
            f"the inventory's vars for {server}",
            fleet.resolve,
        )
        for server, values in fleet.server_variables.items()
    }
    try:
        loaded = playbook.load_located(located, variables, fleet.variables, resolve=fleet.resolve)
    except RemediateError as error:
        # no value for every server, but each server has its own: the first one's stand for
        # the run (organization-wide steps must agree with it)
        if error.reference != "variable-missing" or len(own) != len(fleet.servers):
            raise
        loaded = own[fleet.servers[0].name]
    return loaded, {server: mine for server, mine in own.items() if mine.variables != loaded.variables}


def save(path: Path, planned: Planned, change_id: str | None) -> str:
    """Save the plan for review; its digest, to pin in the change ticket."""
    from remediate.model import saved_plan

    return saved_plan.save(
        path, planned.plan, planned.playbook, planned.hosts, planned.fleet.connection_meta(), change_id
    )
