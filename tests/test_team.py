"""Working as a team: the servers keep each run's record and snapshots, so any administrator,
from any workstation, can list, show and roll back a run (pypsrp, real sockets)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from remediate.sim import CmdletError, Simulator
from remediate.sim.winpath import WinPath
from remediate.winrm.records import owners_only, private
from tests.test_apply import (
    WEB_CONFIG,
    apply,
    cli,
    credentials,
    fingerprint,
    host_args,
    last_run,
    rollback,
    web_config,
)

RECORDS = "C:\\ProgramData\\remediate"


@pytest.fixture
def sim(start_sim: Any) -> Simulator:
    return start_sim(servers=2, restart_seconds=0)  # type: ignore[no-any-return]


def elsewhere(sim: Simulator, state: Path, *args: str) -> Any:
    """A command from another workstation: its own (empty) state directory, the same servers."""
    servers = host_args(sim)[: host_args(sim).index("--health-timeout")]
    return cli(state, *args, *servers, env=credentials(sim))


def files(sim: Simulator, server: str, under: str) -> dict[str, bytes]:
    state = sim.state(server)
    with state.lock:
        return {
            path: state.read(WinPath("FileSystem", path))
            for path in state.all_paths()
            if path.lower().startswith(under.lower() + "\\") and state.is_file(WinPath("FileSystem", path))
        }


def record_of(sim: Simulator, server: str, run: str) -> dict[str, Any]:
    found = files(sim, server, RECORDS)
    return json.loads(found[f"{RECORDS}\\runs\\{run}\\record.json"])  # type: ignore[no-any-return]


def put(sim: Simulator, server: str, path: str, content: bytes) -> None:
    state = sim.state(server)
    with state.lock:
        state.write(WinPath("FileSystem", path), content)


def test_a_run_is_rolled_back_exactly_from_another_workstation(sim: Simulator, tmp_path: Path) -> None:
    """Done when: apply from one state directory, roll back from a second, empty one, byte-exact
    on every server and for the organization object."""
    original = fingerprint(sim)
    here, there = tmp_path / "alice", tmp_path / "bob"
    assert apply(sim, here, "--change-id", "CHG42").exit_code == 0
    run = last_run(here)["id"]
    assert fingerprint(sim) != original

    preview = elsewhere(sim, there, "rollback", run, "--dry-run")
    assert (
        preview.exit_code == 0
        and "restore" in preview.output
        and "would restore the snapshot" in preview.output
    )
    assert "no runs yet" in cli(there, "runs").output  # a dry run leaves nothing behind, here either
    undone = elsewhere(sim, there, "rollback", run, "--yes", "--health-timeout", "5")
    assert undone.exit_code == 0, undone.output
    assert fingerprint(sim) == original
    # bob's journal has the run (taken in from the records) and his rollback of it
    taken = json.loads(cli(there, "runs", "--output", "json").output)["runs"]
    assert [(r["id"], r["kind"], r["where"]) for r in taken][1] == (run, "apply", "servers")
    assert taken[0]["kind"] == "rollback" and taken[0]["rolls_back"] == run
    # the servers say so: every record of the run names the rollback
    for server in sim.servers:
        assert record_of(sim, server, run)["rolled_back_by"] == taken[0]["id"]
    # so alice cannot roll it back a second time from her journal
    again = rollback(sim, here, run)
    assert again.exit_code == 1 and "error: already-rolled-back" in again.output
    assert f"by run {taken[0]['id']}" in again.output


def test_runs_and_show_see_runs_made_elsewhere(sim: Simulator, tmp_path: Path) -> None:
    here, there = tmp_path / "alice", tmp_path / "bob"
    assert apply(sim, here, "--change-id", "CHG7").exit_code == 0
    run = last_run(here)["id"]

    assert "no runs yet" in cli(there, "runs").output  # bob's journal alone knows nothing
    listed = json.loads(elsewhere(sim, there, "runs", "--output", "json").output)["runs"]
    assert [(r["id"], r["where"], r["status"]) for r in listed] == [(run, "servers", "succeeded")]
    assert listed[0]["change_id"] == "CHG7" and len(listed[0]["servers"]) == len(sim.servers)
    mine = json.loads(elsewhere(sim, here, "runs", "--output", "json").output)["runs"]
    assert [(r["id"], r["where"]) for r in mine] == [(run, "both")]

    shown = elsewhere(sim, there, "show", run)
    assert shown.exit_code == 0, shown.output
    assert f"run {run}  apply of app-only-graph" in shown.output and "not in this journal" in shown.output
    assert "change: CHG7" in shown.output and f"snapshot: {RECORDS}\\runs\\{run}\\" in shown.output


def test_snapshots_live_in_an_owner_only_folder_not_beside_the_target(sim: Simulator, tmp_path: Path) -> None:
    before = {server: web_config(sim, server) for server in sim.servers}
    folder = WEB_CONFIG.rsplit("\\", 1)[0]
    beside = {server: sorted(files(sim, server, folder)) for server in sim.servers}
    assert apply(sim, tmp_path).exit_code == 0
    run = last_run(tmp_path)["id"]
    for server in sim.servers:
        assert sorted(files(sim, server, folder)) == beside[server]  # nothing left beside the target
        state = sim.state(server)
        with state.lock:
            assert private(state.security(WinPath("FileSystem", RECORDS)))
            kept = [p for p in state.all_paths() if p.lower().startswith(RECORDS.lower() + "\\runs\\")]
            assert kept and all(owners_only(state.security(WinPath("FileSystem", p))) for p in kept)
        record = record_of(sim, server, run)
        step = next(s for s in record["steps"] if s["target"] == WEB_CONFIG)
        assert files(sim, server, RECORDS)[step["before"]] == before[server]
        assert files(sim, server, RECORDS)[step["after"]] == web_config(sim, server)
        assert record["status"] == "applied" and step["status"] == "verified"
        assert record["playbook"]["name"] == "app-only-graph" and record["playbook"]["text"]
    # the organization step is recorded on the server it went through, and named by the others
    via = [
        s for s in sim.servers if any(st["scope"] == "organization" for st in record_of(sim, s, run)["steps"])
    ]
    assert len(via) == 1
    through = record_of(sim, via[0], run)["server"]  # as the run named the server
    assert all(record_of(sim, s, run)["organization_via"] == through for s in sim.servers)


def test_a_records_folder_that_cannot_be_made_owner_only_stops_the_run(
    sim: Simulator, tmp_path: Path
) -> None:
    original = fingerprint(sim)
    sim.inject(CmdletError(cmdlet="Set-Acl", error="access-denied", times=0))
    result = apply(sim, tmp_path)
    assert result.exit_code == 1 and "owner-only" in result.output
    assert fingerprint(sim) == original
    assert not any(
        p.lower().startswith(RECORDS.lower() + "\\runs")
        for s in sim.servers
        for p in sim.state(s).all_paths()
    )


def test_a_loosened_records_folder_is_made_owner_only_again(sim: Simulator, tmp_path: Path) -> None:
    assert apply(sim, tmp_path).exit_code == 0
    assert rollback(sim, tmp_path, last_run(tmp_path)["id"]).exit_code == 0
    state = sim.state("ex01")
    with state.lock:
        state.set_security(
            WinPath("FileSystem", RECORDS), "O:BAG:SYD:AI(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)"
        )
    assert apply(sim, tmp_path).exit_code == 0
    with state.lock:
        assert private(state.security(WinPath("FileSystem", RECORDS)))


def _edit_record(sim: Simulator, server: str, run: str, change: Any) -> None:
    record = record_of(sim, server, run)
    change(record)
    put(sim, server, f"{RECORDS}\\runs\\{run}\\record.json", json.dumps(record).encode())


def test_a_record_edited_on_the_server_is_an_error_not_a_guess(sim: Simulator, tmp_path: Path) -> None:
    assert apply(sim, tmp_path).exit_code == 0
    run = last_run(tmp_path)["id"]
    applied = fingerprint(sim)

    def forge(record: dict[str, Any]) -> None:
        record["steps"][0]["before_digest"] = "0" * 64

    _edit_record(sim, "ex01", run, forge)
    mine = rollback(sim, tmp_path, run)
    assert (
        mine.exit_code == 1 and "error: record-disagrees" in mine.output and "--trust-journal" in mine.output
    )
    theirs = elsewhere(sim, tmp_path / "bob", "rollback", run, "--yes")
    assert theirs.exit_code == 1 and "error: snapshot-mismatch" in theirs.output
    assert fingerprint(sim) == applied  # nothing was written
    trusted = rollback(sim, tmp_path, run, "--trust-journal")
    assert trusted.exit_code == 0, trusted.output


def test_a_record_removed_on_the_server_is_an_error_unless_the_journal_is_trusted(
    sim: Simulator, tmp_path: Path
) -> None:
    original = fingerprint(sim)
    assert apply(sim, tmp_path).exit_code == 0
    run = last_run(tmp_path)["id"]
    state = sim.state("ex02")
    with state.lock:
        state.remove(WinPath("FileSystem", f"{RECORDS}\\runs\\{run}\\record.json"))
    refused = rollback(sim, tmp_path, run)
    assert refused.exit_code == 1 and "error: record-missing" in refused.output
    assert rollback(sim, tmp_path, run, "--trust-journal").exit_code == 0
    assert fingerprint(sim) == original


def test_a_record_from_a_newer_remediate_is_refused(sim: Simulator, tmp_path: Path) -> None:
    assert apply(sim, tmp_path).exit_code == 0
    run = last_run(tmp_path)["id"]
    _edit_record(sim, "ex01", run, lambda record: record.update({"format": 99, "shiny": True}))
    result = elsewhere(sim, tmp_path / "bob", "rollback", run, "--yes")
    assert result.exit_code == 1 and "error: record-too-new" in result.output


@pytest.mark.parametrize(
    "path",
    [WEB_CONFIG, f"{RECORDS}\\runs\\..\\..\\..\\Program Files\\x.config", f"{RECORDS}\\runs\\a:stream"],
    ids=["the target", "out through ..", "a stream"],
)
def test_a_forged_snapshot_path_is_never_read(sim: Simulator, tmp_path: Path, path: str) -> None:
    """A record pointing its snapshot at another file (the target itself, say) is refused."""
    assert apply(sim, tmp_path).exit_code == 0
    run = last_run(tmp_path)["id"]

    def point_elsewhere(record: dict[str, Any]) -> None:
        for step in record["steps"]:
            step["before"] = path

    _edit_record(sim, "ex01", run, point_elsewhere)
    applied = fingerprint(sim)
    result = elsewhere(sim, tmp_path / "bob", "rollback", run, "--yes")
    assert result.exit_code == 1 and "error: record-disagrees" in result.output
    assert fingerprint(sim) == applied


def test_a_record_claiming_to_be_the_organization_s_server_is_refused(sim: Simulator, tmp_path: Path) -> None:
    """Attack: ex02's record edited to say the organization's steps went through ex02 (whose
    record would then speak for every server's way in): the records tell different runs."""
    assert apply(sim, tmp_path).exit_code == 0
    run = last_run(tmp_path)["id"]
    ex02 = f"{sim.servers['ex02'].host}:{sim.servers['ex02'].port}"

    def claim(record: dict[str, Any]) -> None:
        record["organization_via"] = ex02
        record["hosts"]["servers"] = {
            name: {**entry, "address": "evil.example"} for name, entry in record["hosts"]["servers"].items()
        }

    _edit_record(sim, "ex02", run, claim)
    applied = fingerprint(sim)
    result = elsewhere(sim, tmp_path / "bob", "rollback", run, "--yes")
    assert result.exit_code == 1 and "error: record-disagrees" in result.output
    assert fingerprint(sim) == applied


def test_a_record_moved_into_another_runs_folder_is_refused(sim: Simulator, tmp_path: Path) -> None:
    assert apply(sim, tmp_path).exit_code == 0
    first = last_run(tmp_path)["id"]
    assert rollback(sim, tmp_path, first).exit_code == 0
    assert apply(sim, tmp_path).exit_code == 0
    second = last_run(tmp_path)["id"]
    # someone copies the first run's (rolled back) record over the second's
    copied = files(sim, "ex01", RECORDS)[f"{RECORDS}\\runs\\{first}\\record.json"]
    put(sim, "ex01", f"{RECORDS}\\runs\\{second}\\record.json", copied)
    result = elsewhere(sim, tmp_path / "bob", "rollback", second, "--yes")
    assert result.exit_code == 1 and "error: record-disagrees" in result.output
    assert f"is the record of run {first}" in result.output


def test_a_record_naming_an_unknown_resource_kind_is_refused(sim: Simulator, tmp_path: Path) -> None:
    assert apply(sim, tmp_path).exit_code == 0
    run = last_run(tmp_path)["id"]
    _edit_record(sim, "ex01", run, lambda record: record["steps"][0].update({"kind": "firewall_rule"}))
    result = elsewhere(sim, tmp_path / "bob", "rollback", run, "--yes")
    assert result.exit_code == 1 and "error: record-unreadable" in result.output
    assert "unknown resource kind 'firewall_rule'" in result.output
    _edit_record(
        sim,
        "ex01",
        run,
        lambda record: record["steps"][0].update({"kind": "xml_token", "settings": {"x": 1}}),
    )
    again = elsewhere(sim, tmp_path / "carol", "rollback", run, "--yes")
    assert (
        again.exit_code == 1
        and "error: record-unreadable" in again.output
        and "xml_token settings:" in again.output
    )


def test_a_run_from_elsewhere_needs_every_server_it_reached(sim: Simulator, tmp_path: Path) -> None:
    assert apply(sim, tmp_path).exit_code == 0
    run = last_run(tmp_path)["id"]
    first = next(iter(sim.servers.values()))
    only_one = cli(
        tmp_path / "bob",
        "rollback",
        run,
        "--yes",
        "--host",
        f"{first.host}:{first.port}",
        "--ca-file",
        str(sim.ca_file),
        "--exchange-port",
        str(first.port),
        env=credentials(sim),
    )
    assert only_one.exit_code == 1 and "error: servers-missing" in only_one.output


def _age(sim: Simulator, run: str, days: int) -> None:
    then = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).isoformat(timespec="seconds")
    for server in sim.servers:
        if f"{RECORDS}\\runs\\{run}\\record.json".lower() in {p.lower() for p in files(sim, server, RECORDS)}:
            _edit_record(sim, server, run, lambda record: record.update({"started": then, "finished": then}))


def test_prune_removes_old_records_but_never_the_latest_on_a_target(sim: Simulator, tmp_path: Path) -> None:
    assert apply(sim, tmp_path).exit_code == 0
    first = last_run(tmp_path)["id"]
    assert rollback(sim, tmp_path, first).exit_code == 0
    undo = last_run(tmp_path)["id"]
    assert apply(sim, tmp_path).exit_code == 0
    latest = last_run(tmp_path)["id"]
    for run, days in ((first, 200), (undo, 150), (latest, 100)):
        _age(sim, run, days)

    dry = elsewhere(sim, tmp_path / "bob", "prune", "--older-than", "90d", "--dry-run", "--output", "json")
    assert dry.exit_code == 0, dry.output
    actions = {(p["server"], p["run"]): p["action"] for p in json.loads(dry.output)["results"]}
    assert {a for (s, r), a in actions.items() if r in (first, undo)} == {"would remove"}
    assert {a for (s, r), a in actions.items() if r == latest} == {"kept: the latest run to change a target"}
    assert all(f"{RECORDS}\\runs\\{first}\\record.json" in files(sim, s, RECORDS) for s in sim.servers)

    young = elsewhere(sim, tmp_path / "bob", "prune", "--older-than", "160d", "--yes", "--output", "json")
    assert {(p["run"], p["action"]) for p in json.loads(young.output)["results"]} == {(first, "removed")}
    done = elsewhere(sim, tmp_path / "bob", "prune", "--older-than", "90d", "--yes")
    assert done.exit_code == 0 and "removed" in done.output
    for server in sim.servers:
        left = {p.split("\\")[4] for p in files(sim, server, f"{RECORDS}\\runs")}
        assert left == {latest}
    # what is left still rolls the latest run back, from anywhere
    assert elsewhere(sim, tmp_path / "carol", "rollback", latest, "--yes").exit_code == 0


def test_plan_says_which_run_last_changed_each_target(sim: Simulator, tmp_path: Path) -> None:
    here, there = tmp_path / "alice", tmp_path / "bob"
    assert apply(sim, here, "--change-id", "CHG9").exit_code == 0
    run = last_run(here)["id"]
    planned = elsewhere(sim, there, "plan", "app-only-graph", "--output", "json")
    assert planned.exit_code == 0, planned.output
    plan = json.loads(planned.output)
    changes = [c for s in plan["servers"] for c in s["changes"]] + plan["organization"]["changes"]
    assert changes and all(
        c["last_change"].startswith(f"run {run} (apply of app-only-graph by ") for c in changes
    )
    assert all("change CHG9" in c["last_change"] for c in changes)

    assert rollback(sim, here, run).exit_code == 0
    undo = last_run(here)["id"]
    text = elsewhere(sim, there, "plan", "app-only-graph").output
    assert f"last changed by run {undo} (rollback of app-only-graph" in text


def test_the_latest_organization_change_is_found_on_whichever_server_recorded_it(
    sim: Simulator, tmp_path: Path
) -> None:
    """The partner application was last changed by a run that went through ex02 alone; ex01's
    newest record (a rollback through ex01, earlier) also changed it. The servers' records are
    read at once: the plan names the later run, whichever server answers first."""
    here, there = tmp_path / "alice", tmp_path / "bob"
    assert apply(sim, here).exit_code == 0
    assert rollback(sim, here, last_run(here)["id"]).exit_code == 0
    undo = last_run(here)["id"]
    ex02 = sim.servers["ex02"]
    only_ex02 = cli(
        here,
        "apply",
        "graph-app-only-permissions",
        *(
            "--host",
            f"{ex02.host}:{ex02.port}",
            "--ca-file",
            str(sim.ca_file),
            "--exchange-port",
            str(ex02.port),
        ),
        "--yes",
        env=credentials(sim),
    )
    assert only_ex02.exit_code == 0, only_ex02.output
    latest = last_run(here)["id"]
    assert latest != undo
    planned = elsewhere(sim, there, "plan", "app-only-graph", "--output", "json")
    assert planned.exit_code == 0, planned.output
    plan = json.loads(planned.output)
    [org] = plan["organization"]["changes"]
    assert org["last_change"].startswith(f"run {latest} (apply of graph-app-only-permissions")
    assert all(
        c["last_change"].startswith(f"run {undo} (rollback of app-only-graph")
        for s in plan["servers"]
        for c in s["changes"]
    )


def test_a_record_keeps_its_own_server_s_way_in_and_the_organization_s_server_every_one(
    sim: Simulator, tmp_path: Path
) -> None:
    """Record format 2: how to reach each server is kept once per run (a run on N servers wrote
    N² entries), yet a colleague's rollback of an organization change, taken in from the records,
    still runs the handlers on every server of the run."""
    assert apply(sim, tmp_path).exit_code == 0
    run = last_run(tmp_path)["id"]
    names = [f"{e.host}:{e.port}" for e in sim.servers.values()]  # as --host named them
    assert sorted(record_of(sim, "ex01", run)["hosts"]["servers"]) == sorted(names)  # the organization's way
    assert list(record_of(sim, "ex02", run)["hosts"]["servers"]) == [names[1]]
    assert record_of(sim, "ex02", run)["format"] == 2

    assert apply(sim, tmp_path, playbook="serialization-signing").exit_code == 0
    signing = last_run(tmp_path)["id"]
    # an organization-only run: ex02's record (its handlers ran there) keeps only its own way in
    assert list(record_of(sim, "ex02", signing)["hosts"]["servers"]) == [names[1]]
    before = len(sim.audit_records())
    args = host_args(sim)
    hosts = args[: args.index("--ca-file")]
    reversed_hosts = [
        arg for pair in reversed(list(zip(hosts[::2], hosts[1::2], strict=True))) for arg in pair
    ]
    others = args[args.index("--ca-file") : args.index("--health-timeout")]
    # bob names ex02 first: the record read first is one that keeps only its own server's way in
    undone = cli(
        tmp_path / "bob", "rollback", signing, "--yes", *reversed_hosts, *others, env=credentials(sim)
    )
    assert undone.exit_code == 0, undone.output
    restarted = {r.server for r in sim.audit_records()[before:] if r.command == "Restart-Service"}
    assert restarted == set(sim.servers)


def test_a_run_killed_on_another_workstation_is_rolled_back_from_here(sim: Simulator, tmp_path: Path) -> None:
    """Alice's laptop dies mid-run, holding the locks; Bob, who never saw the run, finishes it
    exactly, once he vouches that it is dead."""
    from remediate.sim import CmdletDelay
    from tests.test_apply import apply_in_background

    original = fingerprint(sim)
    sim.inject(
        CmdletDelay(server="ex01", cmdlet="Move-Item", argument="rest\\web.config", when="after", seconds=60)
    )
    process = apply_in_background(sim, tmp_path / "alice", *host_args(sim), "--serial", "0")
    process.kill()  # the target is written; nothing after it ran
    process.communicate(timeout=30)
    run = json.loads(cli(tmp_path / "alice", "runs", "--output", "json").output)["runs"][0]["id"]
    sim.clear_faults()

    listed = json.loads(elsewhere(sim, tmp_path / "bob", "runs", "--output", "json").output)["runs"]
    assert [(r["id"], r["status"]) for r in listed] == [(run, "running (or interrupted)")]
    refused = elsewhere(sim, tmp_path / "bob", "rollback", run, "--yes")
    assert refused.exit_code == 1 and "error: run-in-progress" in refused.output
    assert f"--break-lock {run}" in refused.output
    assert fingerprint(sim) != original

    done = elsewhere(
        sim, tmp_path / "bob", "rollback", run, "--yes", "--break-lock", run, "--health-timeout", "5"
    )
    assert done.exit_code == 0, done.output
    assert fingerprint(sim) == original
    for server in sim.servers:
        assert not sim.state(server).exists(WinPath("FileSystem", "C:\\ProgramData\\remediate.lock"))


def test_runs_lists_what_it_can_read_and_says_what_it_cannot(sim: Simulator, tmp_path: Path) -> None:
    assert apply(sim, tmp_path).exit_code == 0
    run = last_run(tmp_path)["id"]
    put(sim, "ex02", f"{RECORDS}\\runs\\{run}\\record.json", b"{not json")
    listed = elsewhere(sim, tmp_path / "bob", "runs")
    assert listed.exit_code == 1
    assert (
        run in listed.output
        and "warning: not listed:" in listed.output
        and "record-unreadable" in listed.output
    )


def test_two_steps_on_one_file_keep_a_snapshot_each(sim: Simulator, tmp_path: Path) -> None:
    """The second step's "before" is the first step's result, which is not on the server yet."""
    import yaml

    path = "%ExchangeInstallPath%FrontEnd\\HttpProxy\\rest\\web.config"
    xpath = "/configuration/appSettings/add[@key='OAuthHttpModule.Profiles']/@value"
    steps = [
        {
            "name": f"add {token}",
            "xml_token": {"path": path, "xpath": xpath, "separator": "|", "token": token},
        }
        for token in ("V1S2SAppOnly", "Extra")
    ]
    book = tmp_path / "two.yaml"
    book.write_text(
        yaml.safe_dump({"name": "two", "description": "two edits", "steps": steps}), encoding="utf-8"
    )
    original, original_bytes = fingerprint(sim), web_config(sim, "ex01")
    assert apply(sim, tmp_path / "alice", playbook=str(book)).exit_code == 0
    run = last_run(tmp_path / "alice")["id"]
    kept = files(sim, "ex01", f"{RECORDS}\\runs\\{run}")
    first, second = sorted(record_of(sim, "ex01", run)["steps"], key=lambda step: step["seq"])
    assert kept[first["before"]] == original_bytes and kept[first["after"]] == kept[second["before"]]
    assert b"V1S2SAppOnly" in kept[second["before"]] and b"|Extra" not in kept[second["before"]]
    assert elsewhere(sim, tmp_path / "bob", "rollback", run, "--yes").exit_code == 0
    assert fingerprint(sim) == original


def test_a_run_stopped_with_ctrl_c_says_it_rolled_back(sim: Simulator, tmp_path: Path) -> None:
    """Ctrl-C rolls the batch back before the interrupt goes on: the run says so, not
    "interrupted" (which would mean: may have written, roll it back)."""
    import signal

    from remediate.sim import CmdletDelay
    from tests.test_apply import apply_in_background

    original = fingerprint(sim)
    sim.inject(
        CmdletDelay(server="ex01", cmdlet="Move-Item", argument="rest\\web.config", when="after", seconds=2)
    )
    state = tmp_path / "alice"
    process = apply_in_background(sim, state, *host_args(sim), "--serial", "0")
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 130, out
    assert fingerprint(sim) == original
    [run] = json.loads(cli(state, "runs", "--output", "json").output)["runs"]
    assert run["status"] == "rolled-back", out
    refused = rollback(sim, state, run["id"])
    assert refused.exit_code == 1 and "rolled itself back" in refused.output


def test_a_rollback_through_the_servers_reads_each_record_once_before_marking_it(
    sim: Simulator, tmp_path: Path
) -> None:
    """Found through the servers (`find`), then checked against this journal: not read again."""
    assert apply(sim, tmp_path).exit_code == 0
    run = last_run(tmp_path)["id"]
    sim.audit_records().clear()
    count = len(sim.audit_records())
    assert elsewhere(sim, tmp_path, "rollback", run, "--yes", "--health-timeout", "5").exit_code == 0
    reads = [
        r.server
        for r in sim.audit_records()[count:]
        if r.command == "Get-Content" and f"{run}\\record.json" in str(r.parameter("LiteralPath"))
    ]
    assert sorted(reads) == sorted([*sim.servers] * 2)  # found once, then read to mark it rolled back


def test_two_workstations_rolling_back_one_run_at_once(sim: Simulator, tmp_path: Path) -> None:
    """Bob and Carol, neither of whom made the run, undo it at the same moment: one does it,
    the other is refused (a lock held, or already rolled back), and the servers end exact."""
    import os
    import subprocess
    import sys

    original = fingerprint(sim)
    assert apply(sim, tmp_path / "alice").exit_code == 0
    run = last_run(tmp_path / "alice")["id"]
    servers = host_args(sim)[: host_args(sim).index("--health-timeout")]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "remediate",
                "--state-dir",
                str(tmp_path / who),
                "rollback",
                run,
                *servers,
                "--yes",
                "--health-timeout",
                "5",
            ],
            env={**os.environ, **credentials(sim)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for who in ("bob", "carol")
    ]
    results = [(p.wait(timeout=120), p.communicate()[0]) for p in processes]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 1], results
    loser = next(out for code, out in results if code == 1)
    assert (
        "error: server-locked" in loser or "error: already-rolled-back" in loser or "locked by run" in loser
    ), loser
    assert fingerprint(sim) == original
    for server in sim.servers:
        assert not sim.state(server).exists(WinPath("FileSystem", "C:\\ProgramData\\remediate.lock"))
