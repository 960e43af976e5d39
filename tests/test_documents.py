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


@pytest.mark.parametrize(
    "kind", ["playbook", "plan", "apply", "rollback", "runs", "run", "prune", "show", "diagnose", "error"]
)
def test_every_schema_is_a_valid_json_schema(kind: str) -> None:
    jsonschema.Draft202012Validator.check_schema(schema(kind))
