"""Every `--output json` is one JSON document on standard output, valid against the schema
`remediate schema --output KIND` publishes (checked with jsonschema, not with the models that
made it); progress, prompts and logs go to standard error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner, Result

from remediate.cli import main
from remediate.cli.playbooks import SCHEMAS as CLI_SCHEMAS
from remediate.sim import CmdletError, Simulator
from tests.test_apply import credentials, host_args


def schema(kind: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["schema", "--output", kind], catch_exceptions=False)
    assert result.exit_code == 0
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def document(result: Result, kind: str) -> dict[str, Any]:
    """The one document on standard output, checked against its published schema."""
    data = json.loads(result.stdout)  # all of stdout: exactly one document
    jsonschema.validate(data, schema("show" if kind == "playbook" else kind))
    assert data["format"] == 1 and data["kind"] == kind
    return data  # type: ignore[no-any-return]


def run(state: Path, *args: str, sim: Simulator | None = None) -> Result:
    env = credentials(sim) if sim is not None else None
    return CliRunner().invoke(main, ["--state-dir", str(state), *args], env=env, catch_exceptions=False)


def servers(sim: Simulator) -> list[str]:
    args = host_args(sim)
    return args[: args.index("--health-timeout")]


@pytest.fixture
def sim(start_sim: Any) -> Simulator:
    return start_sim(servers=2, restart_seconds=0)  # type: ignore[no-any-return]


def test_plan_check_and_apply_print_one_document_each(sim: Simulator, tmp_path: Path) -> None:
    planned = document(
        run(tmp_path, "plan", "app-only-graph", *servers(sim), "--output", "json", sim=sim), "plan"
    )
    assert planned["summary"] == {"change": 3, "unchanged": 0, "errors": 0}
    checked = run(tmp_path, "check", "app-only-graph", *servers(sim), "--output", "json", sim=sim)
    assert checked.exit_code == 2 and document(checked, "plan")["summary"]["change"] == 3

    dry = document(
        run(tmp_path, "apply", "app-only-graph", *servers(sim), "--dry-run", "--output", "json", sim=sim),
        "apply",
    )
    assert dry["outcome"] is None and dry["plan"]["summary"]["change"] == 3

    applied = run(
        tmp_path,
        "apply",
        "app-only-graph",
        *host_args(sim),
        "--yes",
        "--serial",
        "0",
        "--output",
        "json",
        sim=sim,
    )
    assert applied.exit_code == 0, applied.output
    data = document(applied, "apply")
    assert data["outcome"]["status"] == "succeeded" and data["outcome"]["kind"] == "apply"
    assert "batch 1/1" in applied.stderr  # progress is on standard error
    run_id = data["outcome"]["run"]

    listed = document(run(tmp_path, "runs", "--output", "json"), "runs")
    assert [r["id"] for r in listed["runs"]] == [run_id] and listed["problems"] == []
    assert isinstance(listed["runs"][0]["hosts"], list)
    shown = document(run(tmp_path, "show", run_id, "--output", "json"), "run")
    assert shown["run"]["id"] == run_id and shown["run"]["hosts"] == listed["runs"][0]["hosts"]
    assert [s["status"] for s in shown["steps"]] == ["verified"] * 3

    elsewhere = document(
        run(tmp_path / "bob", "show", run_id, *servers(sim), "--output", "json", sim=sim), "run"
    )
    assert elsewhere["run"]["where"] == "servers" and len(elsewhere["records"]) == 2

    preview = run(tmp_path, "rollback", run_id, "--dry-run", "--output", "json", sim=sim)
    previewed = document(preview, "rollback")
    assert previewed["outcome"] is None and {p["status"] for p in previewed["preview"]} == {"restore"}
    undone = run(tmp_path, "rollback", run_id, "--yes", "--health-timeout", "5", "--output", "json", sim=sim)
    assert document(undone, "rollback")["outcome"]["status"] == "succeeded"

    pruned = document(
        run(tmp_path, "prune", "--older-than", "1h", "--dry-run", *servers(sim), "--output", "json", sim=sim),
        "prune",
    )
    assert pruned["dry_run"] is True and pruned["results"] == []


def test_show_a_playbook_and_diagnose(tmp_path: Path) -> None:
    shown = document(run(tmp_path, "show", "app-only-graph", "--output", "json"), "playbook")
    assert shown["name"] == "app-only-graph" and len(shown["playbook"]["steps"]) == 2
    finding = '2000001;reason="The token profile V1S2SAppOnly is not allowed";error_category="invalid_token"'
    diagnosed = document(run(tmp_path, "diagnose", finding, "--output", "json"), "diagnose")
    assert diagnosed["findings"][0]["code"] == 2000001


def test_a_failure_is_a_document_too(sim: Simulator, tmp_path: Path) -> None:
    missing = run(tmp_path, "show", "20261129T000000-abcdef", "--output", "json")
    assert missing.exit_code == 1
    error = document(missing, "error")["error"]
    assert error["reference"] == "run-not-found" and "error: run-not-found" in missing.stderr

    sim.inject(CmdletError(cmdlet="Move-Item", argument="rest\\web.config", error="io"))
    failed = run(
        tmp_path,
        "apply",
        "app-only-graph",
        *host_args(sim),
        "--yes",
        "--serial",
        "0",
        "--output",
        "json",
        sim=sim,
    )
    assert failed.exit_code == 1
    data = document(failed, "apply")  # the run's outcome says what failed and what was undone
    assert (
        data["outcome"]["status"] == "rolled-back"
        and data["outcome"]["failure"]["reference"] == "write-failed"
    )


SCHEMAS = list(CLI_SCHEMAS)  # what `remediate schema --output` offers


@pytest.mark.parametrize("kind", SCHEMAS)
def test_every_schema_is_a_valid_json_schema(kind: str) -> None:
    jsonschema.Draft202012Validator.check_schema(schema(kind))


def test_every_command_with_json_output_has_a_schema_here() -> None:
    """A new `--output json` without a published schema (and a test above) fails here: the
    CLI's list (kept without importing the models, for a fast --help) must name them all."""
    from remediate.model.documents import DOCUMENTS

    assert set(DOCUMENTS) | {"playbook", "set", "show"} == set(SCHEMAS)


def test_list_in_full_and_as_a_document(tmp_path: Path) -> None:
    listed = document(run(tmp_path, "list", "--output", "json"), "list")
    names = [p["name"] for p in listed["playbooks"]]
    assert "app-only-graph" in names
    full = run(tmp_path, "list", "--full").stdout
    graph = next(p for p in listed["playbooks"] if p["name"] == "app-only-graph")
    assert " ".join(graph["description"].split()[-6:]) in " ".join(full.split())  # not cut short


def test_runs_filters(sim: Simulator, tmp_path: Path) -> None:
    args = [*host_args(sim), "--yes", "--serial", "0"]
    assert run(tmp_path, "apply", "app-only-graph", *args, "--change-id", "CHG1", sim=sim).exit_code == 0
    first = json.loads(run(tmp_path, "runs", "--output", "json").stdout)["runs"][0]["id"]
    assert run(tmp_path, "rollback", first, "--yes", "--health-timeout", "5", sim=sim).exit_code == 0

    def ids(*options: str) -> list[str]:
        listed = document(run(tmp_path, "runs", *options, "--output", "json"), "runs")
        return [r["id"] for r in listed["runs"]]

    assert ids("--change-id", "CHG1") == ids()  # the rollback carries the run's change id
    assert ids("--change-id", "CHG2") == []
    assert ids("--status", "succeeded") == ids() and ids("--status", "interrupted") == []
    assert ids("--playbook", "app-only-graph") == ids() and ids("--playbook", "other") == []
    assert ids("--since", "1h") == ids() and ids("--since", "2099-01-01") == []
    assert ids("--since", "2000-01-01T00:00") == ids()
    bad = run(tmp_path, "runs", "--since", "last tuesday")
    assert bad.exit_code == 1 and "error: bad-since" in bad.stderr


def test_show_a_saved_plan_offline(sim: Simulator, tmp_path: Path) -> None:
    saved = tmp_path / "change.plan"
    made = run(
        tmp_path, "plan", "app-only-graph", *servers(sim), "--out", str(saved), "--change-id", "CHG5", sim=sim
    )
    assert made.exit_code == 0, made.output
    sim.stop()  # offline: nothing is reached
    shown = run(tmp_path, "show", str(saved))
    assert shown.exit_code == 0, shown.output
    assert (
        f"Saved plan {saved}" in shown.stdout
        and "change CHG5" in shown.stdout
        and "~ Add V1S2SAppOnly" in shown.stdout
    )
    assert document(run(tmp_path, "show", str(saved), "--output", "json"), "plan")["summary"]["change"] == 3


@pytest.mark.parametrize(
    "content", [b"[" * 200_000, b"\xff\xfe{", b'{"format": 1}'], ids=["deep", "not utf-8", "no digest"]
)
def test_a_crafted_plan_file_is_refused_not_a_crash(tmp_path: Path, content: bytes) -> None:
    forged = tmp_path / "forged.plan"
    forged.write_bytes(content)
    for command in (["show", str(forged)], ["report", str(forged)], ["apply", str(forged), "--yes"]):
        result = run(tmp_path, *command)
        assert result.exit_code == 1, (command, result.output)
        assert "error: plan-" in result.stderr and "unexpected" not in result.stderr
