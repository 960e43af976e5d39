"""Plan, apply and undo decisions, without click, sockets or the simulator: fast.

The engine's deciding code runs against `Memory`, an in-memory server implementing the
kinds' `Reader`/`Writer` Protocols and what planning reads (`engine.decide.PlanReader`).
These tests sit beside the end-to-end suite through pypsrp, not instead of it: the wire, the
cmdlets and the journal's crash safety are proven there.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from remediate.engine import decide
from remediate.engine.apply import _refusal, batches_of
from remediate.engine.journal import Journal
from remediate.engine.restore import restore
from remediate.engine.steps import Item, StepReport, handlers_for, items_of
from remediate.engine.undo import rollback_refusal
from remediate.model import playbook
from remediate.model.plan import Change, Plan, ServerPlan
from remediate.model.status import RunStatus, StepStatus
from remediate.sim.scenario import GRAPH_ACT_AS_PERMISSIONS
from remediate.support.errors import RemediateError
from tests.test_journal import start_apply

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "css-exchange"
INSTALL = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\"
REST = INSTALL + "FrontEnd\\HttpProxy\\rest\\web.config"
GRAPH = ("partnerapplication", "microsoft graph")


@dataclass
class Memory:
    """One Exchange server held in memory: files, Exchange objects, a build."""

    name: str = "ex01"
    build: str = "15.2.1748.10"
    files: dict[str, bytes] = field(default_factory=dict)
    objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    settable: bool = True
    reaches_ad: bool = True  # the Exchange access can make the second hop
    writes: list[str] = field(default_factory=list)

    # -- what planning reads ------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return f"{self.name}:5986"

    def connect(self) -> None:
        pass

    def expand(self, path: str) -> str:
        return path.replace("%ExchangeInstallPath%", INSTALL)

    def read_file(self, path: str) -> bytes | None:
        return self.files.get(path.lower())

    def file_hash(self, path: str) -> str | None:
        content = self.read_file(path)
        return None if content is None else hashlib.sha256(content).hexdigest()

    def read_text(self, path: str) -> str | None:
        content = self.read_file(path)
        return None if content is None else content.decode("utf-8")

    def exchange_object(self, noun: str, identity: str) -> dict[str, Any] | None:
        found = self.objects.get((noun.lower(), identity.lower()))
        return None if found is None else json.loads(json.dumps(found))

    def can_set(self, noun: str, parameter: str) -> bool:
        return self.settable

    def exchange_build(self) -> str:
        return self.build

    def exchange_access(self) -> None:
        if not self.reaches_ad:
            raise RemediateError("exchange-second-hop", f"{self.name}: no second hop", "use --auth credssp")

    def parameter_available(self, cmdlet: str, parameter: str) -> bool:
        return self.settable

    # -- what applying writes --------------------------------------------------------------------
    def replace_file(self, path: str, content: bytes, tag: str) -> str | None:
        self.writes.append(f"replace {path}")
        self.files[path.lower()] = content
        return self.file_hash(path)

    def set_property(self, noun: str, identity: str, name: str, value: Any) -> None:
        self.writes.append(f"Set-{noun} {name}")
        self.objects[(noun.lower(), identity.lower())][name] = value

    def remove_file(self, path: str) -> None:
        self.files.pop(path.lower(), None)


def web_config() -> bytes:
    if FIXTURES.is_dir():  # a real Exchange 2019 REST web.config, with Windows line ends
        return (
            (FIXTURES / "E19_Exchange_IIS_DefaultWebSite-Rest_web.config")
            .read_bytes()
            .replace(b"\n", b"\r\n")
        )
    pytest.skip("../shared/fixtures/css-exchange is not present")


def server(name: str = "ex01", **kwargs: Any) -> Memory:
    memory = Memory(name, **kwargs)
    memory.files[REST.lower()] = web_config()
    memory.objects[GRAPH] = {
        "ActAsPermissions": sorted(GRAPH_ACT_AS_PERMISSIONS),
        "AppOnlyPermissions": [],
    }
    return memory


def plan_on(*servers: Memory, name: str = "app-only-graph") -> Plan:
    return decide.make_plan(playbook.load(name), list(servers))


# -- plan ---------------------------------------------------------------------------------------------


def test_a_plan_changes_each_server_and_the_organization_once() -> None:
    plan = plan_on(server("ex01"), server("ex02"))
    assert [c.server for c in plan.servers[0].changes + plan.servers[1].changes] == ["ex01", "ex02"]
    assert [c.server for c in plan.organization] == ["ex01"]  # through the first server
    assert plan.to_change == 3 and plan.errors == 0
    assert all(b"|V1S2SAppOnly" in c.after_state for s in plan.servers for c in s.changes)
    assert [h.name for h in plan.servers[1].handlers] == ["restart-iis"]  # notified by the organization too


def test_a_change_carries_all_apply_needs_without_the_playbook() -> None:
    plan = plan_on(server())
    change = plan.servers[0].changes[0]
    assert change.settings["token"] == "V1S2SAppOnly" and change.kind == "xml_token"
    assert [(h.name, h.kind) for h in plan.handlers] == [("restart-iis", "restart_iis")]
    item = Item.of_change(1, change)
    assert item.spec.token == "V1S2SAppOnly" and item.after == change.after_state


def test_applying_the_planned_states_leaves_nothing_to_change() -> None:
    memory = server()
    first = plan_on(memory)
    for item in items_of(first):
        item.resource.write(item.spec, item.target, item.after, memory, "run")
    again = plan_on(memory)
    assert again.to_change == 0 and again.unchanged == 2


def test_a_failed_precondition_plans_no_change_on_that_server() -> None:
    old = server("ex02", build="15.1.225.42")  # Exchange 2016 RTM: before the REST endpoint
    plan = plan_on(server("ex01"), old)
    problem = plan.servers[1].problem
    assert problem is not None and problem.reference == "precondition-failed"
    assert plan.servers[1].changes == () and plan.errors == 1


def test_a_missing_partner_application_is_an_error_of_its_step() -> None:
    memory = server()
    del memory.objects[GRAPH]
    [change] = plan_on(memory).organization
    assert change.action == "error" and change.problem is not None
    assert change.problem.reference == "exchange-object-missing"


def test_an_exchange_access_that_fails_stops_the_organization_steps() -> None:
    plan = plan_on(server("ex01", reaches_ad=False), server("ex02"))
    problem = plan.servers[0].problem
    assert problem is not None and problem.reference == "exchange-second-hop"
    assert plan.organization == () and plan.organization_problem is not None
    assert plan.errors >= 2  # nothing of this plan is applied


def test_a_playbook_without_exchange_steps_does_not_check_the_exchange_access() -> None:
    plan = plan_on(server("ex01", reaches_ad=False), name="rest-v1s2s-profile")
    assert plan.errors == 0 and plan.to_change == 1


# -- apply -------------------------------------------------------------------------------------------


def _change(step: str, server: str, scope: str = "server", notify: tuple[str, ...] = ()) -> Change:
    return Change(
        step,
        "xml_token",
        scope,
        "change",
        "s",
        server=server,
        target=f"{server}:{step}",
        notify=notify,  # type: ignore[arg-type]
        settings={"path": "p", "xpath": "/a/@b", "token": "T"},
    )


def test_items_follow_the_playbook_order_across_scopes() -> None:
    """A server step, an organization step, then a server step: applied in that order."""
    plan = Plan(
        "p",
        "s",
        "d",
        None,
        servers=(
            ServerPlan("ex01", "e", (_change("one", "ex01"), _change("three", "ex01"))),
            ServerPlan("ex02", "e", (_change("one", "ex02"), _change("three", "ex02"))),
        ),
        organization=(_change("two", "ex01", "organization"),),
        organization_via="ex01",
        steps=("one", "two", "three"),
    )
    assert [(i.seq, i.step, i.server) for i in items_of(plan)] == [
        (1, "one", "ex01"),
        (2, "one", "ex02"),
        (3, "two", "ex01"),
        (4, "three", "ex01"),
        (5, "three", "ex02"),
    ]


def test_an_organization_change_runs_handlers_on_every_server() -> None:
    items = [Item.of_change(1, _change("org", "ex01", "organization", ("restart-iis",)))]
    assert handlers_for(items, ["ex01", "ex02", "ex03"]) == {
        s: ["restart-iis"] for s in ("ex01", "ex02", "ex03")
    }
    local = [Item.of_change(1, _change("one", "ex02", notify=("recycle",)))]
    assert handlers_for(local, ["ex01", "ex02"]) == {"ex02": ["recycle"]}


@pytest.mark.parametrize(
    ("serial", "batches"),
    [(1, [["a"], ["b"], ["c"]]), (2, [["a", "b"], ["c"]]), (0, [["a", "b", "c"]]), (5, [["a", "b", "c"]])],
)
def test_batches(serial: int, batches: list[list[str]]) -> None:
    assert batches_of(["a", "b", "c"], serial) == batches


def test_nothing_to_change_is_no_change_unless_a_server_is_locked() -> None:
    quiet = Plan("p", "s", "d", None, servers=(ServerPlan("ex01", "e"),))
    assert _refusal(quiet, []) == (RunStatus.NO_CHANGE, None)
    locked = Plan("p", "s", "d", None, servers=(ServerPlan("ex01", "e", locked_by="run X"),))
    status, error = _refusal(locked, []) or (None, None)
    assert status == RunStatus.REFUSED and error is not None and error.reference == "server-locked"
    assert _refusal(locked, items_of(plan_on(server()))) is None


# -- undo --------------------------------------------------------------------------------------------


class Recorder:
    """What `restore` needs of an execution, over one in-memory server."""

    run_id = "rollback-1"

    def __init__(self, memory: Memory) -> None:
        self.memory, self.statuses, self.progressed = memory, [], []  # type: ignore[var-annotated]

    def reader(self, server: str) -> Memory:
        return self.memory

    writer = reader

    def with_reconnect(self, server: str, action: Any) -> Any:
        return action()

    def step_status(self, item: Item, status: StepStatus, **fields: Any) -> None:
        item.status = status
        self.statuses.append(status)

    def progress(self, server: str, message: str) -> None:
        self.progressed.append(message)


def _applied(memory: Memory) -> Item:
    [item] = [i for i in items_of(plan_on(memory)) if i.kind == "xml_token"]
    item.resource.write(item.spec, item.target, item.after, memory, "run")
    return item


def _restore(memory: Memory, item: Item, **options: Any) -> StepReport:
    return restore(Recorder(memory), item, **options)  # type: ignore[arg-type]


def test_undo_restores_the_exact_snapshot() -> None:
    memory = server()
    original = memory.files[REST.lower()]
    item = _applied(memory)
    report = _restore(memory, item)
    assert report.status == StepStatus.ROLLED_BACK and memory.files[REST.lower()] == original


def test_undo_of_an_unchanged_target_writes_nothing() -> None:
    memory = server()
    item = _applied(memory)
    memory.files[REST.lower()] = item.before
    memory.writes.clear()
    assert _restore(memory, item).message == "already as before" and memory.writes == []


def test_undo_leaves_a_target_changed_since_alone_unless_told() -> None:
    memory = server()
    item = _applied(memory)
    edited = memory.files[REST.lower()].replace(b"</configuration>", b"<!-- admin --></configuration>")
    memory.files[REST.lower()] = edited
    assert _restore(memory, item).status == StepStatus.ROLLBACK_CONFLICT
    assert memory.files[REST.lower()] == edited

    inverse = _restore(memory, item, strategy="inverse")
    assert inverse.status == StepStatus.ROLLED_BACK
    assert (
        b"V1S2SAppOnly" not in memory.files[REST.lower()] and b"<!-- admin -->" in memory.files[REST.lower()]
    )


def test_undo_recreates_a_target_missing_between_move_items_two_steps() -> None:
    memory = server()
    item = _applied(memory)
    del memory.files[REST.lower()]
    report = _restore(memory, item)
    assert report.status == StepStatus.ROLLED_BACK and "recreated" in report.message
    assert memory.files[REST.lower()] == item.before


def test_rollback_refusals(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path)
    try:
        run_id = start_apply(journal)
        refusal = rollback_refusal(journal, journal.run(run_id))
        assert refusal is not None and refusal.reference == "run-in-progress"  # this process runs it
        journal.finish_run(run_id, RunStatus.NO_CHANGE, {})
        refusal = rollback_refusal(journal, journal.run(run_id))
        assert refusal is not None and refusal.reference == "nothing-to-roll-back"
        with pytest.raises(RemediateError):
            journal.run("no-such-run")
    finally:
        journal.close()
