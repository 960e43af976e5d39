"""A three-server organization: inventories, rolling apply, saved plans, drift checks and
preflight, end to end through pypsrp against the simulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import Result

from remediate.model import inventory as inventories
from remediate.sim import AppPoolFailure, Simulator
from remediate.sim.scenario import GRAPH_ACT_AS_PERMISSIONS, Scenario, Server, WebConfig
from tests.test_apply import app_only, cli, fingerprint, set_web_config, web_config, writes

FIXED = b"|V1S2SAppOnly"
EXCHANGE_2016_CU2 = "15.1.466.34"


def write_inventory(sim: Simulator, path: Path, **servers: dict[str, Any]) -> Path:
    """An inventory naming the simulated servers ex01..exNN, with per-server overrides."""
    entries = {
        name: {"host": endpoint.host, "port": endpoint.port, **servers.get(name, {})}
        for name, endpoint in sim.servers.items()
    }
    names = list(entries)
    document = {
        "defaults": {"ca_file": str(sim.ca_file), "username": sim.username},
        "servers": entries,
        "groups": {"first": names[:1], "others": names[1:]},
    }
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def run(sim: Simulator, state: Path, *args: str) -> Result:
    return cli(state, *args, env={"REMEDIATE_PASSWORD": sim.password})


@pytest.fixture
def sim(start_sim: Any) -> Simulator:
    return start_sim(servers=3)  # type: ignore[no-any-return]


@pytest.fixture
def fleet(sim: Simulator, tmp_path: Path) -> Path:
    return write_inventory(sim, tmp_path / "inventory.yaml")


def apply(sim: Simulator, state: Path, fleet: Path, *extra: str) -> Result:
    return run(
        sim, state, "apply", "app-only-graph", "-i", str(fleet), "--yes", "--health-timeout", "2", *extra
    )


def set_partner_application_calls(sim: Simulator) -> list[str]:
    return [r.server for r in sim.audit_records() if r.command == "Set-PartnerApplication"]


# -- the whole organization --------------------------------------------------------------------------------


def test_three_servers_one_partner_application(sim: Simulator, fleet: Path, tmp_path: Path) -> None:
    result = apply(sim, tmp_path, fleet)
    assert result.exit_code == 0, result.output
    assert set_partner_application_calls(sim) == ["ex01"]  # once, through the first server
    assert sorted(app_only(sim)) == sorted(GRAPH_ACT_AS_PERMISSIONS)
    for server in ("ex01", "ex02", "ex03"):
        assert FIXED in web_config(sim, server)
    # one batch per server, in order, and a per-server summary at the end
    assert result.output.index("batch 1/3: ex01") < result.output.index("batch 2/3: ex02")
    assert result.output.index("batch 2/3: ex02") < result.output.index("batch 3/3: ex03")
    table = result.output[result.output.rindex("SERVER") :]
    assert [_row(table, s) for s in ("ex01", "ex02", "ex03")] == ["applied"] * 3
    report = json.loads(run(sim, tmp_path, "runs", "--output", "json").output)["runs"][0]
    assert report["status"] == "succeeded"


def test_a_health_failure_on_the_second_server_stops_the_run_there(
    sim: Simulator, fleet: Path, tmp_path: Path
) -> None:
    before = fingerprint(sim)
    sim.inject(AppPoolFailure(server="ex02", pool="MSExchangeOWAAppPool"))  # will not come back
    result = apply(sim, tmp_path, fleet, "--serial", "1")
    assert result.exit_code == 1, result.output
    after = fingerprint(sim)
    assert after["files"]["ex01"] != before["files"]["ex01"]  # the first batch stays applied
    assert after["files"]["ex02"] == before["files"]["ex02"]  # the failing batch was rolled back
    assert after["files"]["ex03"] == before["files"]["ex03"]
    assert after["temporary_files"] == []
    assert [r for r in sim.audit_records("ex01") if _writes(r)]
    assert not [r for r in sim.audit_records("ex03") if _writes(r)]  # beyond taking remediate's lock
    assert "health-check-failed" in result.output and "ex02: not healthy" in result.output
    table = result.output[result.output.rindex("SERVER") :]
    assert _row(table, "ex01") == "applied"
    assert _row(table, "ex02") == "rolled-back"
    assert _row(table, "ex03") == "untouched"
    report = json.loads(run(sim, tmp_path, "runs", "--output", "json").output)["runs"][0]
    assert report["status"] == "partial"


def test_a_partial_run_can_be_rolled_back(sim: Simulator, fleet: Path, tmp_path: Path) -> None:
    before = fingerprint(sim)
    sim.inject(AppPoolFailure(server="ex02", pool="MSExchangeOWAAppPool"))  # will not come back
    assert apply(sim, tmp_path, fleet, "--serial", "1").exit_code == 1
    report = json.loads(run(sim, tmp_path, "runs", "--output", "json").output)["runs"][0]
    assert report["status"] == "partial" and fingerprint(sim) != before
    result = run(sim, tmp_path, "rollback", report["id"], "--yes", "--health-timeout", "2")
    assert result.exit_code == 0, result.output
    assert fingerprint(sim) == before  # ex01's file and the partner application, exactly


def test_max_failures_lets_the_run_go_on(sim: Simulator, fleet: Path, tmp_path: Path) -> None:
    sim.inject(AppPoolFailure(server="ex02", pool="MSExchangeOWAAppPool"))  # will not come back
    result = apply(sim, tmp_path, fleet, "--serial", "1", "--max-failures", "1")
    assert result.exit_code == 1, result.output
    table = result.output[result.output.rindex("SERVER") :]
    assert [_row(table, s) for s in ("ex01", "ex02", "ex03")] == ["applied", "rolled-back", "applied"]
    assert FIXED in web_config(sim, "ex03") and FIXED not in web_config(sim, "ex02")


def test_serial_two_makes_two_batches(sim: Simulator, fleet: Path, tmp_path: Path) -> None:
    result = apply(sim, tmp_path, fleet, "--serial", "2")
    assert result.exit_code == 0, result.output
    assert "batch 1/2: ex01, ex02" in result.output and "batch 2/2: ex03" in result.output


# -- inventories ---------------------------------------------------------------------------------------------


def test_limit_selects_a_group_or_servers(sim: Simulator, fleet: Path, tmp_path: Path) -> None:
    result = run(sim, tmp_path, "plan", "app-only-graph", "-i", str(fleet), "--limit", "others")
    assert result.exit_code == 0, result.output
    assert "\nex02 " in result.output and "\nex03 " in result.output and "\nex01 " not in result.output
    # the organization step still runs once, through the first selected server
    assert "organization (through ex02)" in result.output
    result = run(
        sim, tmp_path, "plan", "app-only-graph", "-i", str(fleet), "--limit", "ex03", "--limit", "ex01"
    )
    assert "\nex01 " in result.output and "\nex03 " in result.output and "\nex02 " not in result.output


def test_unknown_limit_is_named(sim: Simulator, fleet: Path, tmp_path: Path) -> None:
    result = run(sim, tmp_path, "plan", "app-only-graph", "-i", str(fleet), "--limit", "ex4")
    assert result.exit_code == 1
    assert "ex4" in result.output and "inventory" in result.output
    assert writes(sim) == []


def test_per_server_overrides(sim: Simulator, start_sim: Any, tmp_path: Path) -> None:
    # ex03 reaches Exchange through the /PowerShell endpoint, whose RBAC hides -AppOnlyPermissions:
    # only ex03 fails the parameter precondition.
    path = write_inventory(
        sim,
        tmp_path / "inventory.yaml",
        ex03={"exchange": "remote", "exchange_port": sim.servers["ex03"].port},
    )
    result = run(sim, tmp_path, "plan", "app-only-graph", "-i", str(path))
    assert result.exit_code == 1, result.output
    start = result.output.index("Preflight")
    preflight = result.output[start : result.output.index("\n\n", start)]
    ex01 = next(line for line in preflight.splitlines() if line.strip().startswith("ex01"))
    ex03 = next(line for line in preflight.splitlines() if line.strip().startswith("ex03"))
    assert "ok" in ex01 and ex01.count("ok") == 3
    assert ex03.count("ok") < 3
    assert writes(sim) == []


def test_a_bad_inventory_names_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text("servers:\n  ex01:\n    trnasport: https\n", encoding="utf-8")
    result = cli(tmp_path, "plan", "app-only-graph", "-i", str(path))
    assert result.exit_code == 1
    assert (
        "inventory.yaml:3" in result.output and "trnasport" in result.output and "transport" in result.output
    )


def test_discover_lists_the_organization_as_an_inventory(sim: Simulator, tmp_path: Path) -> None:
    first = sim.servers["ex01"]
    result = run(
        sim,
        tmp_path,
        "inventory",
        "discover",
        "--host",
        f"{first.host}:{first.port}",
        "--ca-file",
        str(sim.ca_file),
        "-u",
        sim.username,
    )
    assert result.exit_code == 0, result.output
    saved = tmp_path / "discovered.yaml"
    saved.write_text(result.output, encoding="utf-8")
    loaded = inventories.load(saved)
    assert loaded.select([]) == ["ex01", "ex02", "ex03"]
    assert sim.password not in result.output
    # the port it was reached on is kept; the CA file is absolute on standard output...
    data = yaml.safe_load(result.output)
    assert (
        data["defaults"]["port"] == first.port and Path(data["defaults"]["ca_file"]) == sim.ca_file.resolve()
    )
    # ...and relative to the inventory with --out, wherever discover ran
    elsewhere = tmp_path / "inventories" / "contoso.yaml"
    elsewhere.parent.mkdir()
    written = run(
        sim,
        tmp_path,
        "inventory",
        "discover",
        "--out",
        str(elsewhere),
        "--host",
        f"{first.host}:{first.port}",
        "--ca-file",
        str(sim.ca_file),
        "-u",
        sim.username,
    )
    assert written.exit_code == 0, written.output
    relative = yaml.safe_load(elsewhere.read_text(encoding="utf-8"))["defaults"]["ca_file"]
    assert (
        not Path(relative).is_absolute() and (elsewhere.parent / relative).resolve() == sim.ca_file.resolve()
    )
    assert inventories.load(elsewhere).select(["ex02"]) == ["ex02"]


def test_the_inventory_wins_over_the_command_line_and_fills_in_from_it(
    sim: Simulator, tmp_path: Path
) -> None:
    strict = write_inventory(sim, tmp_path / "strict.yaml")
    document = yaml.safe_load(strict.read_text(encoding="utf-8"))
    document["defaults"]["insecure"] = False
    strict.write_text(yaml.safe_dump(document), encoding="utf-8")
    planned = run(sim, tmp_path, "plan", "app-only-graph", "-i", str(strict), "--insecure")
    assert planned.exit_code == 0, planned.output
    assert "WARNING: --insecure" not in planned.output  # the file says insecure: false
    # what the file does not say comes from the command line: the Exchange endpoint's port
    first = sim.servers["ex01"]
    remote = run(
        sim,
        tmp_path,
        "plan",
        "app-only-graph",
        "-i",
        str(strict),
        "--exchange",
        "remote",
        "--exchange-port",
        str(first.port),
        "--limit",
        "ex01",
    )
    # it reached /PowerShell on that port and asked RBAC (which, here, grants no -AppOnlyPermissions)
    assert "-AppOnlyPermissions" in remote.output and "! precondition-failed" in remote.output, remote.output
    assert "exchange-unreachable" not in remote.output and "connection" not in remote.output.lower()


def test_a_missing_ca_file_is_found_when_the_inventory_is_read(sim: Simulator, tmp_path: Path) -> None:
    broken = write_inventory(sim, tmp_path / "broken.yaml", ex02={"ca_file": "nowhere.pem"})
    result = run(sim, tmp_path, "plan", "app-only-graph", "-i", str(broken))
    assert result.exit_code == 1 and "error: inventory-invalid" in result.output
    assert (
        f"{broken}:" in result.output
        and "ca_file:" in result.output
        and "nowhere.pem does not exist" in result.output
    )
    assert sim.audit_records() == []  # nothing was reached


# -- saved plans ------------------------------------------------------------------------------------------


def test_a_saved_plan_is_applied_exactly(sim: Simulator, fleet: Path, tmp_path: Path) -> None:
    plan = tmp_path / "change.plan"
    result = run(
        sim, tmp_path, "plan", "app-only-graph", "-i", str(fleet), "--out", str(plan), "--change-id", "CHG42"
    )
    assert result.exit_code == 0, result.output and plan.exists()
    assert writes(sim) == []
    result = run(sim, tmp_path, "apply", str(plan), "--yes", "--health-timeout", "2")
    assert result.exit_code == 0, result.output
    assert all(FIXED in web_config(sim, s) for s in ("ex01", "ex02", "ex03"))
    report = json.loads(run(sim, tmp_path, "runs", "--output", "json").output)["runs"][0]
    assert report["change_id"] == "CHG42" and report["status"] == "succeeded"


def test_a_saved_plan_is_refused_when_a_server_changed(sim: Simulator, fleet: Path, tmp_path: Path) -> None:
    plan = tmp_path / "change.plan"
    assert run(sim, tmp_path, "plan", "app-only-graph", "-i", str(fleet), "--out", str(plan)).exit_code == 0
    set_web_config(
        sim,
        web_config(sim, "ex02").replace(b"<appSettings>", b"<appSettings>\r\n    <!-- edited -->"),
        "ex02",
    )
    before = fingerprint(sim)
    result = run(sim, tmp_path, "apply", str(plan), "--yes")
    assert result.exit_code == 1, result.output
    assert "stale plan" in result.output and "ex02" in result.output and "web.config" in result.output
    assert "re-plan" in result.output
    assert fingerprint(sim) == before and writes(sim) == []


def test_a_tampered_plan_is_refused(sim: Simulator, fleet: Path, tmp_path: Path) -> None:
    plan = tmp_path / "change.plan"
    assert run(sim, tmp_path, "plan", "app-only-graph", "-i", str(fleet), "--out", str(plan)).exit_code == 0
    document = json.loads(plan.read_text(encoding="utf-8"))
    text = json.dumps(document)
    assert "V1S2SAppOnly" in text
    plan.write_text(text.replace("|V1S2SAppOnly", "|V1S2SAppOnly|Evil", 1), encoding="utf-8")
    result = run(sim, tmp_path, "apply", str(plan), "--yes")
    assert result.exit_code == 1, result.output
    assert "plan" in result.output.lower() and writes(sim) == []


def _forge(plan: Path, edit: Any) -> None:
    """Edit a saved plan and recompute its digest, as anyone can (it is an unkeyed SHA-256)."""
    from remediate.model.saved_plan import _digest

    document = json.loads(plan.read_text(encoding="utf-8"))
    edit(document)
    document["digest"] = _digest(document)
    plan.write_text(json.dumps(document), encoding="utf-8")


def test_a_forged_plan_with_a_recomputed_digest_is_refused(
    sim: Simulator, fleet: Path, tmp_path: Path
) -> None:
    import base64

    plan = tmp_path / "change.plan"
    assert run(sim, tmp_path, "plan", "app-only-graph", "-i", str(fleet), "--out", str(plan)).exit_code == 0

    def evil_bytes(document: dict[str, Any]) -> None:  # the reviewed diff stays; the bytes change
        row = next(r for r in document["states"] if r["after_state"] and r["target"].endswith("web.config"))
        content = base64.b64decode(row["after_state"])
        row["after_state"] = base64.b64encode(content.replace(b"V1S2SAppOnly", b"V1S2SAppOnly|Evil")).decode()

    _forge(plan, evil_bytes)
    before = fingerprint(sim)
    result = run(sim, tmp_path, "apply", str(plan), "--yes")
    assert result.exit_code == 1, result.output
    assert "plan-tampered" in result.output and "is not what its playbook makes" in result.output
    assert fingerprint(sim) == before and writes(sim) == []


def test_apply_shows_the_diff_it_derives_not_the_one_stored(
    sim: Simulator, fleet: Path, tmp_path: Path
) -> None:
    plan = tmp_path / "change.plan"
    assert run(sim, tmp_path, "plan", "app-only-graph", "-i", str(fleet), "--out", str(plan)).exit_code == 0

    def innocent_diff(document: dict[str, Any]) -> None:
        for server in document["plan"]["servers"]:
            for change in server["changes"]:
                change["diff"] = "(nothing to see here)"

    _forge(plan, innocent_diff)
    result = run(sim, tmp_path, "apply", str(plan), "--dry-run")
    assert result.exit_code == 0, result.output
    assert (
        "nothing to see here" not in result.output
        and '+    <add key="OAuthHttpModule.Profiles"' in result.output
    )


def test_a_ticket_pins_the_reviewed_plan_by_its_digest(sim: Simulator, fleet: Path, tmp_path: Path) -> None:
    plan = tmp_path / "change.plan"
    made = run(sim, tmp_path, "plan", "app-only-graph", "-i", str(fleet), "--out", str(plan))
    digest = json.loads(plan.read_text(encoding="utf-8"))["digest"]
    assert f"--expect-digest {digest}" in made.output
    wrong = run(sim, tmp_path, "apply", str(plan), "--yes", "--expect-digest", "0" * 64)
    assert wrong.exit_code == 1 and "plan-not-the-reviewed-one" in wrong.output and writes(sim) == []
    right = run(
        sim, tmp_path, "apply", str(plan), "--yes", "--expect-digest", digest, "--health-timeout", "2"
    )
    assert right.exit_code == 0, right.output


def test_the_pinned_digest_is_of_the_content_checked_not_of_a_file_swapped_in_later(
    sim: Simulator, fleet: Path, tmp_path: Path
) -> None:
    from remediate.model import saved_plan

    reviewed, forged = tmp_path / "reviewed.plan", tmp_path / "forged.plan"
    assert (
        run(sim, tmp_path, "plan", "app-only-graph", "-i", str(fleet), "--out", str(reviewed)).exit_code == 0
    )
    forged.write_bytes(reviewed.read_bytes())
    _forge(forged, lambda document: document.update(change_id="CHG-FORGED"))  # self-consistent
    saved = saved_plan.load(forged)
    forged.write_bytes(reviewed.read_bytes())  # the reviewed file is put back after the load
    assert saved.change_id == "CHG-FORGED"
    assert saved.digest != json.loads(reviewed.read_text(encoding="utf-8"))["digest"]  # the forged one's


def test_an_unchanged_plan_says_so(sim: Simulator, fleet: Path, tmp_path: Path) -> None:
    assert apply(sim, tmp_path, fleet, "--serial", "0").exit_code == 0
    plan = tmp_path / "change.plan"
    result = run(
        sim, tmp_path, "plan", "app-only-graph", "-i", str(fleet), "--out", str(plan), "--detailed-exitcode"
    )
    assert result.exit_code == 0, result.output


# -- drift ---------------------------------------------------------------------------------------------------


def test_check_finds_drift_after_a_cumulative_update(sim: Simulator, fleet: Path, tmp_path: Path) -> None:
    check = ("check", "app-only-graph", "-i", str(fleet))
    assert run(sim, tmp_path, *check).exit_code == 2  # nothing applied yet
    assert apply(sim, tmp_path, fleet, "--serial", "0").exit_code == 0
    result = run(sim, tmp_path, *check)
    assert result.exit_code == 0, result.output
    sim.cumulative_update("ex02", "15.2.1748.24")
    assert FIXED not in web_config(sim, "ex02")
    result = run(sim, tmp_path, *check)
    assert result.exit_code == 2, result.output
    assert "ex02" in result.output
    assert apply(sim, tmp_path, fleet, "--serial", "0").exit_code == 0
    assert run(sim, tmp_path, *check).exit_code == 0


def test_check_exits_1_on_errors(sim: Simulator, fleet: Path, tmp_path: Path) -> None:
    result = cli(tmp_path, "check", "app-only-graph", "-i", str(fleet), env={"REMEDIATE_PASSWORD": "wrong"})
    assert result.exit_code == 1


# -- preflight -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ex02", "in_row", "in_output"),
    [
        (Server(name="ex02", build=EXCHANGE_2016_CU2), ["Exchange 2016 CU2", EXCHANGE_2016_CU2], []),
        (
            Server(name="ex02", rest_web_config=WebConfig(state="unexpanded-install-dir")),
            [],
            ["%ExchangeInstallDir%"],
        ),
    ],
    ids=["exchange-2016-cu2", "unexpanded-install-dir"],
)
def test_preflight_refuses_one_bad_server_before_anything_is_written(
    start_sim: Any, tmp_path: Path, ex02: Server, in_row: list[str], in_output: list[str]
) -> None:
    sim = start_sim(Scenario(servers=[Server(name="ex01"), ex02, Server(name="ex03")]))
    fleet = write_inventory(sim, tmp_path / "inventory.yaml")
    before = fingerprint(sim)
    result = apply(sim, tmp_path, fleet, "--serial", "0")
    assert result.exit_code == 1, result.output
    rows = {line.split()[0]: line for line in result.output.splitlines() if line.startswith("  ex0")}
    assert "FAILED" in rows["ex02"] and "FAILED" not in rows["ex01"] + rows["ex03"]
    assert all(text in rows["ex02"] for text in in_row)
    assert all(text in result.output for text in in_output)
    assert fingerprint(sim) == before and writes(sim) == []


# -- change ids ------------------------------------------------------------------------------------------


def test_the_change_id_is_on_every_log_line_of_the_run(sim: Simulator, fleet: Path, tmp_path: Path) -> None:
    log_file = tmp_path / "run.log"
    password = {"REMEDIATE_PASSWORD": sim.password}
    result = cli(
        tmp_path,
        "--log-file",
        str(log_file),
        "apply",
        "app-only-graph",
        "-i",
        str(fleet),
        "--yes",
        "--change-id",
        "CHG0042",
        env=password,
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in log_file.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(records) >= 3
    assert all(record.get("change_id") == "CHG0042" for record in records), records
    events = [record["event"] for record in records]
    assert "run started" in events and events[-1] == "run finished"
    assert sim.password not in log_file.read_text(encoding="utf-8")
    report = json.loads(run(sim, tmp_path, "runs", "--output", "json").output)["runs"][0]
    assert report["change_id"] == "CHG0042"
    # the next invocation in the same process does not inherit it
    later = tmp_path / "later.log"
    assert (
        cli(
            tmp_path, "--log-file", str(later), "plan", "app-only-graph", "-i", str(fleet), env=password
        ).exit_code
        == 0
    )
    assert later.read_text(encoding="utf-8") and "CHG0042" not in later.read_text(encoding="utf-8")


# -- helpers -------------------------------------------------------------------------------------------------


def _writes(record: Any) -> bool:
    return bool(record.writes) and not any(str(v).endswith("remediate.lock") for _, v in record.parameters)


def _row(table: str, server: str) -> str:
    line = next(line for line in table.splitlines() if line.strip().startswith(server + " "))
    return line.strip()[len(server) :].strip()
