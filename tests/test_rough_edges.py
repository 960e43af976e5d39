"""The rough edges a new user hit (issue 16), each pinned: pipes, state directories, colours,
JSON progress, library tracebacks, a strategy's preview, faults the README documents."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from remediate.sim import Simulator
from tests.test_apply import apply, cli, credentials, host_args, last_run, set_web_config, web_config


def remediate(
    *args: str, env: dict[str, str] | None = None, **options: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "remediate", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        **options,
    )


@pytest.fixture
def sim(start_sim: Any) -> Simulator:
    return start_sim(servers=1, restart_seconds=0)  # type: ignore[no-any-return]


def test_a_closed_pipe_ends_quietly() -> None:
    """`remediate show PLAYBOOK | head -1`: no BrokenPipeError, no crash report."""
    shell = f"{sys.executable} -m remediate show app-only-graph | head -1; echo status=${{PIPESTATUS[0]}}"
    result = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, timeout=60)
    assert result.stdout.startswith("app-only-graph") and "status=" in result.stdout
    assert (
        "Traceback" not in result.stderr
        and "BrokenPipe" not in result.stderr
        and "unexpected" not in result.stderr
    )
    assert result.stdout.strip().endswith("status=141") or result.stdout.strip().endswith("status=0")


def test_a_state_directory_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.write_text("not a folder", encoding="utf-8")
    for result in (
        remediate("runs", env={"REMEDIATE_STATE_DIR": str(state)}),
        remediate("--state-dir", str(state / "below"), "runs"),
    ):
        assert result.returncode == 1, result.stderr
        assert "error: state-dir-invalid" in result.stderr and "is a file" in result.stderr
        assert "unexpected" not in result.stderr


def test_colours_follow_no_color_and_the_option(tmp_path: Path) -> None:
    def styled(*args: str, env: dict[str, str] | None = None) -> bool:
        return "\x1b[" in cli(tmp_path, *args, "show", "app-only-graph", env=env).output

    assert styled("--color", "always")
    assert not styled()  # not a terminal
    assert not styled("--color", "never")
    assert not styled(env={"NO_COLOR": "1"})
    assert styled("--color", "always", env={"NO_COLOR": ""})  # set but empty: no effect


def test_progress_is_json_events_with_json_logs(sim: Simulator, tmp_path: Path) -> None:
    result = cli(
        tmp_path,
        "--log-format",
        "json",
        "apply",
        "app-only-graph",
        *host_args(sim),
        "--yes",
        env=credentials(sim),
    )
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    progress = [e for e in events if e.get("event") == "progress"]
    assert progress and all({"elapsed", "server", "message"} <= set(e) for e in progress)
    assert any("checking health after restart-iis (up to 5s)" in e["message"] for e in progress)
    assert not [line for line in result.stderr.splitlines() if line.startswith("  [")]  # no text lines


def test_a_blackholed_host_gives_one_clean_error(start_sim: Any, tmp_path: Path) -> None:
    from remediate.sim.faults import Unreachable

    sim = start_sim(servers=1)
    sim.inject(Unreachable(mode="blackhole"))
    servers = host_args(sim)[: host_args(sim).index("--health-timeout")]
    for log_format in ("console", "json"):
        result = remediate(
            "--state-dir",
            str(tmp_path),
            "--log-format",
            log_format,
            "plan",
            "app-only-graph",
            *servers,
            "--connect-timeout",
            "2",
            "--timeout",
            "3",
            env=credentials(sim),
        )
        assert result.returncode == 1 and "! host-timeout:" in result.stdout, result.stdout
        # pypsrp logs the timeout (with its traceback); remediate says it once, cleanly
        assert "Traceback" not in result.stderr and "ReadTimeout" not in result.stderr, result.stderr


def test_a_rollback_preview_follows_the_strategy(sim: Simulator, tmp_path: Path) -> None:
    assert apply(sim, tmp_path).exit_code == 0
    run = last_run(tmp_path)["id"]
    set_web_config(
        sim, web_config(sim).replace(b"</appSettings>", b'<add key="Later" value="edit" /></appSettings>')
    )
    env = credentials(sim)
    exact = cli(tmp_path, "rollback", run, "--dry-run", env=env)
    assert "conflict" in exact.output
    inverse = cli(tmp_path, "rollback", run, "--dry-run", "--strategy", "inverse", env=env)
    assert "conflict" not in inverse.output and "would undo only this change" in inverse.output
    forced = cli(tmp_path, "rollback", run, "--dry-run", "--force", env=env)
    assert "would restore the snapshot (--force)" in forced.output


def test_sim_fault_add_takes_every_kind_the_readme_documents(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    kinds = [line.split("`")[1] for line in readme.splitlines() if line.startswith("| `") and "|" in line[3:]]
    kinds = [
        kind
        for kind in kinds
        if kind
        in (
            "cmdlet-error",
            "cmdlet-delay",
            "drop-connection",
            "deny-access",
            "restart",
            "app-pool",
            "unreachable",
        )
    ]
    assert len(kinds) == 7
    needs = {
        "cmdlet-error": ["--cmdlet", "Get-Content"],
        "cmdlet-delay": ["--cmdlet", "Get-Content"],
        "drop-connection": [],
        "deny-access": ["--path", "C:\\x"],
        "restart": [],
        "app-pool": ["--pool", "MSExchangeOWAAppPool"],
        "unreachable": [],
    }
    for kind in kinds:
        added = remediate("sim", "fault", "add", kind, "--state", str(tmp_path), *needs[kind])
        assert added.returncode == 0, (kind, added.stderr)
        assert json.loads(added.stdout)["kind"] == kind


def test_tables_fit_the_terminal(sim: Simulator, tmp_path: Path) -> None:
    assert apply(sim, tmp_path, "--change-id", "CHG3").exit_code == 0
    for columns in ("80", "200"):
        env = {**credentials(sim), "COLUMNS": columns}
        listed = cli(tmp_path, "runs", env=env).output.splitlines()
        planned = cli(tmp_path, "plan", "app-only-graph", *host_args(sim)[:-2], env=env).output.splitlines()
        if columns == "80":
            assert all(len(line) <= 80 for line in listed), listed
            notice = [line for line in planned if line.strip().startswith(("note:", "ended", "update"))]
            assert notice and all(len(line) <= 80 for line in notice)
            preflight = planned[planned.index("Preflight") + 1 :]
            preflight = preflight[: preflight.index("")]
            assert all(len(line) <= 80 for line in preflight) and any(
                "-AppOnlyPermissions: ok" in line for line in preflight
            )
        else:
            assert listed[0].startswith("RUN ") and "CHG3" in listed[1]
