"""Playbook sets (issue 19): several playbooks as one plan, one run, one IIS restart per
server, one rollback; conflicts refused at plan time. Real pypsrp against the simulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from remediate.sim import CmdletError, Simulator
from tests.test_apply import (
    apply,
    cli,
    credentials,
    fingerprint,
    host_args,
    last_run,
    rollback,
    web_config,
    writes,
)

FIXED = b"|V1S2SAppOnly"

SET = """\
name: lab-baseline
description: Microsoft Graph app-only calls, and serialization payloads signed.
playbooks:
  - playbook: app-only-graph
  - playbook: serialization-signing
"""


def overrides(sim: Simulator) -> list[str]:
    with sim.org.lock:
        return [o["Name"] for o in sim.org.data.get("setting_overrides", [])]


def state(sim: Simulator) -> dict[str, Any]:
    return {**fingerprint(sim), "overrides": overrides(sim)}


@pytest.fixture
def sim(start_sim: Any) -> Simulator:
    return start_sim(servers=2, restart_seconds=0)  # type: ignore[no-any-return]


def plan_args(sim: Simulator) -> list[str]:
    args = host_args(sim)
    return args[: args.index("--health-timeout")]  # an apply option


def write_set(tmp_path: Path, text: str = SET, name: str = "set.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_set_is_one_run_with_one_iis_restart_per_server(sim: Simulator, tmp_path: Path) -> None:
    result = apply(sim, tmp_path, playbook=write_set(tmp_path))
    assert result.exit_code == 0, result.output
    run = last_run(tmp_path)
    assert run["playbook"] == "lab-baseline" and run["status"] == "succeeded"
    assert overrides(sim) == ["EnableSigningVerification"]
    for server in sim.servers:
        calls = [r.command for r in sim.audit_records(server)]
        # both playbooks notify restart-iis: it runs once, after the variant configuration's refresh
        assert calls.count("Restart-Service") == 1
        refresh = max(i for i, c in enumerate(calls) if c == "Get-ExchangeDiagnosticInfo")
        assert refresh < calls.index("Restart-Service")
    # the run is one journal run with every playbook's steps, named by playbook
    shown = json.loads(cli(tmp_path, "show", run["id"], "--output", "json").output)
    names = {step["step"] for step in shown["steps"]}
    assert "app-only-graph: Add V1S2SAppOnly to the REST front end's OAuth token profiles" in names
    assert "serialization-signing: Create the EnableSigningVerification setting override" in names


def test_a_fault_in_the_second_playbook_rolls_back_both(sim: Simulator, tmp_path: Path) -> None:
    original = state(sim)
    sim.inject(CmdletError(cmdlet="New-SettingOverride"))
    result = apply(sim, tmp_path, playbook=write_set(tmp_path))
    assert result.exit_code == 1
    assert last_run(tmp_path)["status"] == "rolled-back"
    assert state(sim) == original  # web.config byte-exact, AppOnlyPermissions as they were, no override


def test_rollback_of_a_set_run_restores_everything(sim: Simulator, tmp_path: Path) -> None:
    original = state(sim)
    assert apply(sim, tmp_path, playbook=write_set(tmp_path)).exit_code == 0
    assert state(sim) != original
    undone = rollback(sim, tmp_path, last_run(tmp_path)["id"])
    assert undone.exit_code == 0, undone.output
    assert state(sim) == original


CONFLICTING = """\
name: other-profiles
description: Sets the REST front end's token profiles to a fixed list.
steps:
  - name: Set the token profiles
    xml_attribute:
      path: '%ExchangeInstallPath%FrontEnd\\HttpProxy\\rest\\web.config'
      xpath: "/configuration/appSettings/add[@key='OAuthHttpModule.Profiles']/@value"
      value: S2SAppActAs
"""


def test_a_conflicting_set_is_refused_at_plan_time(sim: Simulator, tmp_path: Path) -> None:
    (tmp_path / "other.yaml").write_text(CONFLICTING, encoding="utf-8")
    text = SET.replace("  - playbook: serialization-signing\n", "  - playbook: ./other.yaml\n")
    original = state(sim)
    result = apply(sim, tmp_path, playbook=write_set(tmp_path, text))
    assert result.exit_code != 0
    assert "steps-conflict" in result.output
    assert "app-only-graph: Add V1S2SAppOnly" in result.output
    assert "other-profiles: Set the token profiles" in result.output
    assert state(sim) == original and writes(sim) == []


def test_members_agreeing_on_a_target_are_not_a_conflict(sim: Simulator, tmp_path: Path) -> None:
    """rest-v1s2s-profile makes the same change as app-only-graph's first step."""
    text = SET.replace("serialization-signing", "rest-v1s2s-profile")
    result = cli(tmp_path, "plan", write_set(tmp_path, text), *plan_args(sim), env=credentials(sim))
    assert result.exit_code == 0, result.output
    assert "rest-v1s2s-profile: Add V1S2SAppOnly" in result.output


def test_a_saved_plan_of_a_set_is_applied_exactly(sim: Simulator, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    made = cli(
        tmp_path, "plan", write_set(tmp_path), *plan_args(sim), "--out", str(out), env=credentials(sim)
    )
    assert made.exit_code == 0, made.output
    (tmp_path / "set.yaml").write_text("not: a set any more\n", encoding="utf-8")  # the plan carries it all
    applied = cli(tmp_path, "apply", str(out), "--yes", env=credentials(sim))
    assert applied.exit_code == 0, applied.output
    assert overrides(sim) == ["EnableSigningVerification"]


def test_servers_limit_a_member_and_unknown_names_are_errors(sim: Simulator, tmp_path: Path) -> None:
    first = next(iter(sim.servers))
    name = f"127.0.0.1:{sim.servers[first].port}"
    text = SET.replace(
        "  - playbook: app-only-graph\n", f"  - playbook: app-only-graph\n    servers: ['{name}']\n"
    )
    result = cli(tmp_path, "plan", write_set(tmp_path, text), *plan_args(sim), env=credentials(sim))
    assert result.exit_code == 0, result.output
    plan = json.loads(
        cli(
            tmp_path,
            "plan",
            write_set(tmp_path, text),
            *plan_args(sim),
            "--output",
            "json",
            env=credentials(sim),
        ).output
    )
    steps = {s["server"]: [c["step"] for c in s["changes"]] for s in plan["servers"]}
    assert any(step.startswith("app-only-graph:") for step in steps[name])
    assert all(
        not step.startswith("app-only-graph:")
        for server, found in steps.items()
        if server != name
        for step in found
    )

    wrong = SET.replace(
        "  - playbook: app-only-graph\n", "  - playbook: app-only-graph\n    servers: [ex99]\n"
    )
    refused = cli(tmp_path, "plan", write_set(tmp_path, wrong), *plan_args(sim), env=credentials(sim))
    assert refused.exit_code != 0
    assert "set.yaml:5:" in refused.output and "ex99" in refused.output


def test_a_set_refuses_var_and_nested_sets(tmp_path: Path) -> None:
    path = write_set(tmp_path)
    given = cli(tmp_path, "validate", path)
    assert given.exit_code == 0, given.output
    nested = write_set(tmp_path, SET.replace("app-only-graph", "./set.yaml"), name="outer.yaml")
    refused = cli(tmp_path, "validate", nested)
    assert refused.exit_code != 0 and "a set lists playbooks, not sets" in refused.output
    aliased = write_set(
        tmp_path,
        SET.replace("playbook: app-only-graph", "playbook: &p app-only-graph") + "  - playbook: *p\n",
    )
    refused = cli(tmp_path, "validate", aliased)
    assert (
        refused.exit_code != 0
        and "set.yaml:6:5: playbooks[2].playbook: YAML aliases are not allowed" in refused.output
    )


def test_a_member_s_error_names_where_the_set_lists_it(tmp_path: Path) -> None:
    unknown = write_set(tmp_path, SET.replace("app-only-graph", "no-such-playbook"))
    refused = cli(tmp_path, "validate", unknown)
    assert (
        refused.exit_code != 0 and "set.yaml:4:15: playbooks[0].playbook: no playbook named" in refused.output
    )
    wrong = write_set(
        tmp_path,
        SET.replace("  - playbook: app-only-graph\n", "  - playbook: app-only-graph\n    vars: {NOPE: 1}\n"),
    )
    refused = cli(tmp_path, "validate", wrong)
    assert (
        refused.exit_code != 0
        and "set.yaml:4:5: playbooks[0]: " in refused.output
        and "NOPE" in refused.output
    )


def test_a_member_path_that_is_no_file_and_an_empty_group_are_errors_at_their_line(tmp_path: Path) -> None:
    directory = write_set(tmp_path, SET.replace("app-only-graph", str(tmp_path)))
    refused = cli(tmp_path, "validate", directory)
    assert (
        refused.exit_code != 0
        and f"set.yaml:4:15: playbooks[0].playbook: cannot read {tmp_path}: a directory" in refused.output
    )

    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        "defaults: {username: administrator}\nservers:\n  ex01: {host: 127.0.0.1, port: 9}\ngroups:\n  empty: []\n",
        encoding="utf-8",
    )
    empty = write_set(
        tmp_path,
        SET.replace("  - playbook: app-only-graph\n", "  - playbook: app-only-graph\n    servers: [empty]\n"),
    )
    refused = cli(tmp_path, "plan", empty, "-i", str(inventory), env={"REMEDIATE_PASSWORD": "x"})
    assert refused.exit_code != 0
    assert "set.yaml:5:15: playbooks[0].servers[0]: group 'empty' has no servers" in refused.output


def test_handlers_of_one_name_that_do_different_things_are_both_kept(tmp_path: Path) -> None:
    for n in (1, 2):
        (tmp_path / f"p{n}.yaml").write_text(
            BANNER.replace("name: banner", f"name: p{n}")
            .replace("name: Banner", f"name: B{n}")
            .replace("      value: ${text}\n", "      value: ${text}\n    notify: [reload]\n")
            + f"handlers:\n  - name: reload\n    recycle_app_pools: {{pools: [Pool{n}]}}\n",
            encoding="utf-8",
        )
    text = "name: h\ndescription: two reloads\nplaybooks:\n"
    text += "".join(f"  - playbook: ./p{n}.yaml\n    vars: {{text: x}}\n" for n in (1, 2))
    shown = cli(tmp_path, "show", write_set(tmp_path, text))
    assert shown.exit_code == 0, shown.output
    assert "reload: Restart-WebAppPool -Name Pool1" in shown.output
    assert "p2-reload: Restart-WebAppPool -Name Pool2" in shown.output
    assert shown.output.index("notifies: reload") < shown.output.index("notifies: p2-reload")


def test_a_set_killed_in_its_second_playbook_is_rolled_back_whole(tmp_path: Path) -> None:
    """Attack: SIGKILL while serialization-signing's override is being created, after
    app-only-graph changed web.config and the partner application: one rollback undoes both."""
    from click.testing import CliRunner

    from remediate.cli import main
    from remediate.sim import CmdletDelay
    from remediate.sim.faults import FaultBook
    from remediate.sim.store import Store
    from tests.lab import LAB
    from tests.test_crash import run_and_kill, state_of

    state, sim_state = tmp_path / "state", tmp_path / "state" / "sim"
    with Simulator(sim_state, restart_seconds=0, authentication=LAB):  # seed the embedded organization
        pass
    original = state_of(sim_state)
    FaultBook(sim_state / "faults.json").add(
        CmdletDelay(cmdlet="New-SettingOverride", when="after", seconds=60)
    )
    run_and_kill(state, sim_state, "apply", write_set(tmp_path), "--host", "sim", "--yes")

    def created() -> list[str]:
        org, _ = Store(sim_state).load()
        return [o["Name"] for o in org.data.get("setting_overrides", [])]

    killed = state_of(sim_state)
    assert killed["web.config"] != original["web.config"] and killed["app_only"] != original["app_only"]
    assert created() == ["EnableSigningVerification"]
    FaultBook(sim_state / "faults.json").clear()
    runner = CliRunner()
    [run] = json.loads(runner.invoke(main, ["--state-dir", str(state), "runs", "--output", "json"]).output)[
        "runs"
    ]
    assert run["status"] == "interrupted" and run["playbook"] == "lab-baseline"
    undone = runner.invoke(
        main, ["--state-dir", str(state), "rollback", run["id"], "--yes", "--health-timeout", "5"]
    )
    assert undone.exit_code == 0, undone.output
    assert state_of(sim_state) == original and created() == []


BANNER = """\
name: banner
description: A registry text value from a variable.
variables:
  text: {type: string}
steps:
  - name: Set the banner
    registry_value:
      key: 'HKLM:\\SOFTWARE\\Contoso'
      name: Banner
      type: String
      value: ${text}
"""


def test_a_member_value_with_a_literal_placeholder_stays_literal(sim: Simulator, tmp_path: Path) -> None:
    """A value given in the set is put into its member once: text in it that looks like a
    placeholder is not read as one again when the compiled set is parsed, planned from a saved
    plan or rolled back."""
    (tmp_path / "banner.yaml").write_text(BANNER, encoding="utf-8")
    text = SET + "  - playbook: ./banner.yaml\n    vars: {text: 'costs ${price}, $${escaped}'}\n"
    path = write_set(tmp_path, text)
    assert cli(tmp_path, "validate", path).exit_code == 0
    out = tmp_path / "plan.json"
    made = cli(tmp_path, "plan", path, *plan_args(sim), "--out", str(out), env=credentials(sim))
    assert made.exit_code == 0, made.output
    applied = cli(tmp_path, "apply", str(out), "--yes", env=credentials(sim))
    assert applied.exit_code == 0, applied.output
    for server in sim.servers:
        state = sim.state(server)
        with state.lock:
            found = [e["values"] for e in state.data["registry"].values() if "Banner" in e["values"]]
        assert [v["Banner"]["value"] for v in found] == ["costs ${price}, $${escaped}"], found


def test_cu_day_check_finds_drift_and_apply_redoes_only_that(sim: Simulator, tmp_path: Path) -> None:
    """A cumulative update rewrites one server's web.config: `check SET -i` names that step on
    that server (exit 2), and `apply` changes only it: no other server, no partner application,
    no setting override touched again; IIS restarted on that server alone."""
    from tests.test_fleet import run, write_inventory

    inventory = str(write_inventory(sim, tmp_path / "inventory.yaml"))
    path = write_set(tmp_path)
    check = ("check", path, "-i", inventory)
    assert run(sim, tmp_path, *check).exit_code == 2  # nothing applied yet
    applied = run(sim, tmp_path, "apply", path, "-i", inventory, "--yes", "--health-timeout", "2")
    assert applied.exit_code == 0, applied.output
    clean = run(sim, tmp_path, *check)
    assert clean.exit_code == 0, clean.output

    sim.cumulative_update("ex02", "15.2.1748.24")
    drift = run(sim, tmp_path, *check, "--output", "json")
    assert drift.exit_code == 2, drift.output
    found = json.loads(drift.stdout)
    drifted = {
        s["server"]: [c["step"] for c in s["changes"] if c["action"] != "none"]
        for s in found["servers"]
        if any(c["action"] != "none" for c in s["changes"])
    }
    assert drifted == {
        "ex02": ["app-only-graph: Add V1S2SAppOnly to the REST front end's OAuth token profiles"]
    }

    before = len(sim.audit_records())
    again = run(sim, tmp_path, "apply", path, "-i", inventory, "--yes", "--health-timeout", "2")
    assert again.exit_code == 0, again.output
    since = sim.audit_records()[before:]
    assert [(r.server, r.command) for r in since if r.command == "Restart-Service"] == [
        ("ex02", "Restart-Service")
    ]
    assert not [r for r in since if r.command in ("Set-PartnerApplication", "New-SettingOverride")]
    assert all(r.server == "ex02" for r in since if r.command == "Move-Item")
    shown = json.loads(run(sim, tmp_path, "show", last_run(tmp_path)["id"], "--output", "json").output)
    assert {(s["server"], s["step"]) for s in shown["steps"]} == {
        ("ex02", "app-only-graph: Add V1S2SAppOnly to the REST front end's OAuth token profiles")
    }
    assert run(sim, tmp_path, *check).exit_code == 0


def test_a_set_run_s_report_names_every_playbook(sim: Simulator, tmp_path: Path) -> None:
    assert apply(sim, tmp_path, "--change-id", "CHG19", playbook=write_set(tmp_path)).exit_code == 0
    run = last_run(tmp_path)
    result = cli(tmp_path, "report", run["id"], "--format", "md")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith(f"# Change {run['id']}: lab-baseline") and "| Change | CHG19 |" in text
    assert "app-only-graph: Add V1S2SAppOnly" in text and "serialization-signing: Create the" in text
    assert text.count("restart-iis ran; healthy") == len(sim.servers)


def test_a_member_s_servers_limit_its_preconditions_too(start_sim: Any, tmp_path: Path) -> None:
    """serialization-signing needs the January 2023 update; limited to ex01, an ex02 on an
    older build is no reason to refuse ex02 (app-only-graph still runs there): its check
    shows `-` in ex02's preflight row, and passes."""
    from remediate.sim.scenario import Scenario, Server
    from tests.test_fleet import run, write_inventory

    old = "15.1.2375.7"  # Exchange 2016 CU22: has the REST endpoint, not the January 2023 update
    sim = start_sim(
        Scenario(servers=[Server(name="ex01"), Server(name="ex02", build=old)]), restart_seconds=0
    )
    inventory = str(write_inventory(sim, tmp_path / "inventory.yaml"))
    refused = run(sim, tmp_path, "plan", write_set(tmp_path), "-i", inventory)
    assert refused.exit_code != 0 and "ex02" in refused.output and "15.1.2507.17" in refused.output

    limited = SET.replace(
        "  - playbook: serialization-signing\n", "  - playbook: serialization-signing\n    servers: [first]\n"
    )
    path = write_set(tmp_path, limited)
    planned = run(sim, tmp_path, "plan", path, "-i", inventory, "--output", "json")
    assert planned.exit_code == 0, planned.output
    rows = {s["server"]: s["preflight"] for s in json.loads(planned.stdout)["servers"]}
    signing = "build >= 15.1.2507.17"
    assert [c["applies"] for c in rows["ex01"] if c["check"] == signing] == [True]
    assert [(c["applies"], c["problem"]) for c in rows["ex02"] if c["check"] == signing] == [(False, None)]
    shown = run(sim, tmp_path, "plan", path, "-i", inventory).output
    ex02_row = next(line for line in shown.splitlines() if line.strip().startswith("ex02") and old in line)
    assert ex02_row.split()[-1] == "-"  # the signing column, last

    applied = run(sim, tmp_path, "apply", path, "-i", inventory, "--yes", "--health-timeout", "2")
    assert applied.exit_code == 0, applied.output
    assert overrides(sim) == ["EnableSigningVerification"]
    assert FIXED in web_config(sim, "ex02")


def test_a_playbook_s_own_step_servers_must_name_servers(sim: Simulator, tmp_path: Path) -> None:
    """`servers:` written in a playbook (not through a set) names servers of the run or its
    inventory: a typo or a group is an error at its line, not a step that silently runs nowhere."""
    from tests.test_fleet import run, write_inventory

    inventory = str(write_inventory(sim, tmp_path / "inventory.yaml"))
    book = tmp_path / "banner.yaml"
    for name, expected in (
        ("ex9", "'ex9' is not a server of this run or its inventory"),
        ("others", "(it is a group)"),
    ):
        book.write_text(BANNER + f"    servers: [{name}]\n", encoding="utf-8")
        refused = run(sim, tmp_path, "plan", str(book), "-i", inventory, "--var", "text=x")
        assert refused.exit_code != 0, refused.output
        assert f"banner.yaml:12:15: steps[0].servers[0]: '{name}' is not a server" in refused.output
        assert expected in refused.output

    book.write_text(BANNER + "    servers: [EX02]\n", encoding="utf-8")
    planned = run(sim, tmp_path, "plan", str(book), "-i", inventory, "--var", "text=x", "--output", "json")
    assert planned.exit_code == 0, planned.output
    changes = {
        s["server"]: [c["action"] for c in s["changes"]] for s in json.loads(planned.stdout)["servers"]
    }
    assert changes == {"ex01": [], "ex02": ["change"]}


def test_a_precondition_two_limited_members_share_keeps_each_member_s_steps_where_they_were(
    tmp_path: Path,
) -> None:
    for n in (1, 2):
        (tmp_path / f"p{n}.yaml").write_text(
            BANNER.replace("name: banner", f"name: p{n}").replace(
                "steps:\n", "preconditions:\n  - exchange_build: {minimum: 15.1.544.27}\nsteps:\n"
            ),
            encoding="utf-8",
        )
    text = "name: h\ndescription: two limited\nplaybooks:\n"
    text += "".join(
        f"  - playbook: ./p{n}.yaml\n    vars: {{text: x}}\n    servers: [ex0{n}]\n" for n in (1, 2)
    )
    from remediate.model.playbook_set import parse_set

    path = Path(write_set(tmp_path, text))
    compiled = parse_set(path.read_bytes(), path, str(path)).playbook
    assert [p.servers for p in compiled.preconditions] == [["ex01", "ex02"]]
    assert [s.servers for s in compiled.steps] == [["ex01"], ["ex02"]]


def test_a_colleague_rolls_back_a_set_run_from_the_servers_records(sim: Simulator, tmp_path: Path) -> None:
    """The run is recorded on the servers like any run: from another workstation (an empty
    journal), `runs -i` finds it by the set's name and `rollback RUN -i` undoes every playbook."""
    from tests.test_fleet import run, write_inventory

    inventory = str(write_inventory(sim, tmp_path / "inventory.yaml"))
    original = state(sim)
    mine, theirs = tmp_path / "mine", tmp_path / "theirs"
    applied = run(sim, mine, "apply", write_set(tmp_path), "-i", inventory, "--yes", "--health-timeout", "2")
    assert applied.exit_code == 0, applied.output
    run_id = last_run(mine)["id"]
    found = json.loads(run(sim, theirs, "runs", "-i", inventory, "--output", "json").output)["runs"]
    assert [(r["id"], r["playbook"]) for r in found] == [(run_id, "lab-baseline")]
    undone = run(sim, theirs, "rollback", run_id, "-i", inventory, "--yes", "--health-timeout", "5")
    assert undone.exit_code == 0, undone.output
    assert state(sim) == original
