"""`remediate apply` and `remediate rollback` against the simulator (pypsrp, real sockets)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from remediate.cli import main
from remediate.sim import AppPoolFailure, CmdletDelay, CmdletError, DropConnection, RestartFailure, Simulator
from remediate.sim.audit import WRITING_CMDLETS
from remediate.sim.scenario import GRAPH_ACT_AS_PERMISSIONS

TARGET = "rest\\web.config"  # in a fault: only calls naming the target (not remediate's records)
WEB_CONFIG = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\rest\\web.config"


def cli(state: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, ["--state-dir", str(state), *args], env=env, catch_exceptions=False)


def host_args(sim: Simulator) -> list[str]:
    hosts = [
        arg for endpoint in sim.servers.values() for arg in ("--host", f"{endpoint.host}:{endpoint.port}")
    ]
    first = next(iter(sim.servers.values()))
    return [
        *hosts,
        "--ca-file",
        str(sim.ca_file),
        "--exchange-port",
        str(first.port),
        "--health-timeout",
        "5",
    ]


def credentials(sim: Simulator) -> dict[str, str]:
    return {"REMEDIATE_USERNAME": sim.username, "REMEDIATE_PASSWORD": sim.password}


def apply(
    sim: Simulator, state: Path, *extra: str, playbook: str = "app-only-graph", serial: str = "0"
) -> Result:
    """Apply to every server at once (--serial 0): the run succeeds or fails as a whole."""
    return cli(
        state, "apply", playbook, *host_args(sim), "--yes", "--serial", serial, *extra, env=credentials(sim)
    )


def rollback(sim: Simulator, state: Path, run: str, *extra: str) -> Result:
    return cli(state, "rollback", run, "--yes", "--health-timeout", "5", *extra, env=credentials(sim))


def last_run(state: Path) -> dict[str, Any]:
    return json.loads(cli(state, "runs", "--output", "json").output)["runs"][0]


def web_config(sim: Simulator, server: str = "ex01") -> bytes:
    state = sim.state(server)
    with state.lock:
        return state.read(sim.machine(server).path(WEB_CONFIG, "C:\\"))


def set_web_config(sim: Simulator, content: bytes, server: str = "ex01") -> None:
    state = sim.state(server)
    with state.lock:
        state.write(sim.machine(server).path(WEB_CONFIG, "C:\\"), content)


def app_only(sim: Simulator) -> Any:
    with sim.org.lock:
        return next(a for a in sim.org.partner_applications() if a["Name"] == "Microsoft Graph")[
            "AppOnlyPermissions"
        ]


def fingerprint(sim: Simulator) -> dict[str, Any]:
    """What app-only-graph changes, on every server: equal fingerprints mean the same state."""
    files = {name: hashlib.sha256(web_config(sim, name)).hexdigest() for name in sim.servers}
    leftovers = [p for name in sim.servers for p in sim.state(name).all_paths() if p.endswith(".tmp")]
    return {"files": files, "app_only": app_only(sim), "temporary_files": leftovers}


def writes(sim: Simulator) -> list[str]:
    """Writing calls, other than taking and releasing remediate's own server lock."""

    def lock(record: Any) -> bool:
        return any(str(value).endswith("remediate.lock") for _, value in record.parameters)

    return [r.command for r in sim.audit_records() if r.command.lower() in WRITING_CMDLETS and not lock(r)]


def apply_in_background(sim: Simulator, state: Path, *args: str) -> subprocess.Popen[str]:
    """`remediate apply` in a process of its own (to the simulator run by the test), returned
    once a fault injected beforehand has fired: the process is caught where the fault holds it."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "remediate",
            "--state-dir",
            str(state),
            "apply",
            "app-only-graph",
            *args,
            "--yes",
        ],
        env={**os.environ, **credentials(sim)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Ctrl-C as at a terminal, however pytest was started (a background shell job inherits
        # SIGINT ignored, and Python then installs no KeyboardInterrupt)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not [f for f in sim.faults.active() if f.fired]:
        time.sleep(0.05)
    return process


@pytest.fixture
def sim(start_sim: Any) -> Simulator:
    return start_sim(servers=2, restart_seconds=0)  # type: ignore[no-any-return]


# -- apply, then roll back -------------------------------------------------------------------------------


def test_apply_then_rollback_restores_exact_bytes_and_values(sim: Simulator, tmp_path: Path) -> None:
    original = fingerprint(sim)
    result = apply(sim, tmp_path, "--change-id", "CHG123")
    assert result.exit_code == 0, result.output
    assert "succeeded: done" in result.output
    assert all(b"|CallbackV2|V1S2SAppOnly" in web_config(sim, name) for name in sim.servers)
    assert app_only(sim) == list(GRAPH_ACT_AS_PERMISSIONS)
    restarts = [r for r in sim.audit_records() if r.command == "Restart-Service"]
    assert sorted(r.server for r in restarts) == ["ex01", "ex02"]
    run = last_run(tmp_path)
    assert run["status"] == "succeeded" and run["change_id"] == "CHG123"

    undone = rollback(sim, tmp_path, run["id"])
    assert undone.exit_code == 0, undone.output
    assert fingerprint(sim) == original
    assert last_run(tmp_path)["kind"] == "rollback"
    assert (
        json.loads(cli(tmp_path, "runs", "--output", "json").output)["runs"][1]["rolled_back_by"]
        == last_run(tmp_path)["id"]
    )


def test_applying_twice_changes_nothing_the_second_time(sim: Simulator, tmp_path: Path) -> None:
    assert apply(sim, tmp_path).exit_code == 0
    sim.audit.records().clear()
    count = len(sim.audit_records())
    second = apply(sim, tmp_path)
    assert second.exit_code == 0 and "nothing to change" in second.output
    assert [r.command for r in sim.audit_records()[count:] if r.command.lower() in WRITING_CMDLETS] == []
    assert last_run(tmp_path)["status"] == "no-change"


def test_rolling_back_twice_or_a_rollback_is_refused(sim: Simulator, tmp_path: Path) -> None:
    apply(sim, tmp_path)
    run = last_run(tmp_path)["id"]
    assert rollback(sim, tmp_path, run).exit_code == 0
    again = rollback(sim, tmp_path, run)
    assert again.exit_code == 1 and "error: already-rolled-back" in again.output
    of_rollback = rollback(sim, tmp_path, last_run(tmp_path)["id"])
    assert of_rollback.exit_code == 1 and "error: rollback-of-rollback" in of_rollback.output


def test_show_run_and_runs(sim: Simulator, tmp_path: Path) -> None:
    apply(sim, tmp_path, "--change-id", "CHG9")
    run = last_run(tmp_path)["id"]
    shown = cli(tmp_path, "show", run)
    assert f"run {run}  apply of app-only-graph" in shown.output and "change: CHG9" in shown.output
    assert (
        '+    <add key="OAuthHttpModule.Profiles"' in shown.output
        and "snapshot: C:\\ProgramData\\remediate\\runs\\" in shown.output
    )
    data = json.loads(cli(tmp_path, "show", run, "--output", "json").output)
    assert [s["status"] for s in data["steps"]] == ["verified", "verified", "verified"]
    assert any(line.startswith(run) for line in cli(tmp_path, "runs").output.splitlines())


def test_dry_run_needs_no_confirmation_and_writes_nothing(sim: Simulator, tmp_path: Path) -> None:
    result = cli(tmp_path, "apply", "app-only-graph", *host_args(sim), "--dry-run", env=credentials(sim))
    assert result.exit_code == 0 and writes(sim) == []


def test_apply_without_a_terminal_needs_yes(sim: Simulator, tmp_path: Path) -> None:
    result = cli(tmp_path, "apply", "app-only-graph", *host_args(sim), env=credentials(sim))
    assert (
        result.exit_code == 1 and "error: confirmation-required" in result.output and "--yes" in result.output
    )
    assert writes(sim) == []


# -- any failure rolls the run back -----------------------------------------------------------------------

FAULTS = {
    "temporary file write fails": CmdletError(cmdlet="Set-Content", argument=TARGET, error="access-denied"),
    "replace fails": CmdletError(cmdlet="Move-Item", argument=TARGET, error="io"),
    "second server's write fails": CmdletError(
        server="ex02", cmdlet="Move-Item", argument=TARGET, error="io"
    ),
    "snapshot copy fails": CmdletError(cmdlet="Copy-Item", argument=TARGET, error="io"),
    "record write fails": CmdletError(cmdlet="Set-Content", argument="record.json", error="io"),
    "record replace fails": CmdletError(cmdlet="Move-Item", argument="record.json", error="io"),
    "snapshot folder cannot be made owner-only": CmdletError(cmdlet="Set-Acl", error="access-denied"),
    "partner application write fails": CmdletError(cmdlet="Set-PartnerApplication"),
    "restart fails": RestartFailure(server="ex02", mode="fail", service="W3SVC"),
    "connection drops before the replace": DropConnection(
        server="ex01", cmdlet="Move-Item", argument=TARGET, when="before"
    ),
    "connection drops after the replace": DropConnection(
        server="ex01", cmdlet="Move-Item", argument=TARGET, when="after"
    ),
    "connection drops on the temporary write": DropConnection(
        server="ex02", cmdlet="Set-Content", argument=TARGET, when="after"
    ),
    # Get-FileHash of web.config on ex01: the re-check before writing, the temporary file's
    # check, the verify (in the request that moved the new file into place).
    "connection drops on the verify read": DropConnection(
        server="ex01", cmdlet="Get-FileHash", argument=TARGET, nth=3
    ),
    "connection drops after the partner application write": DropConnection(
        cmdlet="Set-PartnerApplication", when="after"
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS.values()), ids=list(FAULTS))
def test_a_failure_anywhere_leaves_the_servers_as_they_were(
    sim: Simulator, tmp_path: Path, fault: Any
) -> None:
    original = fingerprint(sim)
    sim.inject(fault)
    result = apply(sim, tmp_path)
    assert result.exit_code == 1, result.output
    assert fingerprint(sim) == original
    assert last_run(tmp_path)["status"] in ("rolled-back", "refused")
    if last_run(tmp_path)["status"] == "rolled-back":
        assert "the run failed and was rolled back: the servers are as they were" in result.output
    else:
        assert "nothing was changed" in result.output
    locks = [
        sim.state(n).exists(sim.machine(n).path("C:\\ProgramData\\remediate.lock", "C:\\"))
        for n in sim.servers
    ]
    assert locks == [False, False]
    assert all(sim.state(name).service("W3SVC")["status"] == "Running" for name in sim.servers)


def test_a_connection_lost_during_the_restart_is_reconnected(sim: Simulator, tmp_path: Path) -> None:
    sim.inject(DropConnection(server="ex01", cmdlet="Restart-Service", when="after"))
    result = apply(sim, tmp_path)
    assert result.exit_code == 0, result.output
    assert "reconnecting after" in result.output and "succeeded: done" in result.output
    assert [r.server for r in sim.audit_records() if r.command == "Restart-Service"].count("ex01") == 2


def name(sim: Simulator, server: str) -> str:
    return f"127.0.0.1:{sim.servers[server].port}"


def test_a_verify_mismatch_rolls_back(sim: Simulator, tmp_path: Path) -> None:
    original = fingerprint(sim)
    sim.inject(CmdletDelay(server="ex01", cmdlet="Move-Item", argument=TARGET, when="after", seconds=1.0))

    def current() -> bytes:
        try:
            return web_config(sim)
        except KeyError:  # between Move-Item's delete and rename there is no web.config
            return b""

    def someone_else_edits() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and b"V1S2SAppOnly" not in current():
            time.sleep(0.05)
        set_web_config(sim, current().replace(b'value="*"', b'value="x"', 1))

    editor = threading.Thread(target=someone_else_edits)
    editor.start()
    result = apply(sim, tmp_path)
    editor.join()
    assert result.exit_code == 1 and "verify-failed" in result.output
    assert fingerprint(sim) == original  # the snapshot wins over the concurrent edit, as it must when undoing


def test_a_failed_health_check_rolls_back(sim: Simulator, tmp_path: Path) -> None:
    original = fingerprint(sim)
    sim.inject(AppPoolFailure(server="ex02", pool="MSExchangeOWAAppPool"))  # will not come back
    result = apply(sim, tmp_path)
    assert result.exit_code == 1 and "health-check-failed" in result.output
    assert f"{name(sim, 'ex02')}: not healthy" in result.output
    assert fingerprint(sim) == original


def test_the_plan_is_rechecked_before_anything_is_written(sim: Simulator, tmp_path: Path) -> None:
    # Reading the partner application through ex01 is the plan's last read: slow it down, and
    # meanwhile someone edits ex02's web.config, which the plan has already read.
    sim.inject(CmdletDelay(server="ex01", cmdlet="Get-PartnerApplication", seconds=1.0))

    def someone_else_edits() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not [f for f in sim.faults.active() if f.fired]:
            time.sleep(0.02)
        set_web_config(sim, web_config(sim, "ex02") + b"\r\n<!-- edited -->", "ex02")

    editor = threading.Thread(target=someone_else_edits)
    editor.start()
    result = apply(sim, tmp_path)
    editor.join()
    assert (
        result.exit_code == 1 and "changed since the plan was made, so nothing was changed" in result.output
    )
    assert f"{name(sim, 'ex02')}: {WEB_CONFIG}" in result.output
    assert writes(sim) == []


# -- rollback after someone else changed a target ------------------------------------------------------------


def _applied_then_edited(sim: Simulator, tmp_path: Path) -> tuple[str, bytes]:
    apply(sim, tmp_path)
    run = last_run(tmp_path)["id"]
    edited = web_config(sim).replace(
        b'OAuthHttpModule.V1AppScopes" value="*"', b'OAuthHttpModule.V1AppScopes" value="Mail.Read"'
    )
    set_web_config(sim, edited)
    return run, edited


def test_rollback_does_not_overwrite_a_later_edit(sim: Simulator, tmp_path: Path) -> None:
    run, edited = _applied_then_edited(sim, tmp_path)
    preview = rollback(sim, tmp_path, run, "--dry-run")
    assert f"conflict  {name(sim, 'ex01')}" in preview.output
    result = rollback(sim, tmp_path, run)
    assert result.exit_code == 1 and "--strategy inverse" in result.output
    assert web_config(sim) == edited
    assert last_run(tmp_path)["status"] == "rollback-incomplete"


def test_rollback_inverse_removes_only_our_token(sim: Simulator, tmp_path: Path) -> None:
    original = web_config(sim)
    run, edited = _applied_then_edited(sim, tmp_path)
    result = rollback(sim, tmp_path, run, "--strategy", "inverse")
    assert result.exit_code == 0, result.output
    assert web_config(sim) == edited.replace(b"|V1S2SAppOnly", b"")
    assert web_config(sim) != original and b"Mail.Read" in web_config(sim)


def test_rollback_force_restores_the_exact_snapshot(sim: Simulator, tmp_path: Path) -> None:
    original = web_config(sim)
    run, _ = _applied_then_edited(sim, tmp_path)
    assert rollback(sim, tmp_path, run, "--force").exit_code == 0
    assert web_config(sim) == original


# -- locks --------------------------------------------------------------------------------------------------


def test_a_second_apply_is_refused_while_the_first_holds_the_lock(sim: Simulator, tmp_path: Path) -> None:
    sim.inject(CmdletDelay(server="ex01", cmdlet="Copy-Item", seconds=4.0))
    first = apply_in_background(sim, tmp_path / "a", *host_args(sim))
    try:
        second = apply(sim, tmp_path / "b")
        assert second.exit_code == 1 and "error" in second.output
        assert "is locked by run" in second.output and "--break-lock" in second.output
        out, _ = first.communicate(timeout=60)
        assert first.returncode == 0, out
    finally:
        if first.poll() is None:
            first.kill()
    assert "succeeded" in last_run(tmp_path / "a")["status"]
    assert last_run(tmp_path / "b")["status"] == "refused"


def test_the_lock_is_released(sim: Simulator, tmp_path: Path) -> None:
    apply(sim, tmp_path)
    assert all(
        not sim.state(name).exists(sim.machine(name).path("C:\\ProgramData\\remediate.lock", "C:\\"))
        for name in sim.servers
    )


def test_each_server_environment_is_read_once(sim: Simulator, tmp_path: Path) -> None:
    """%ExchangeInstallPath% (the plan) and %ProgramData% (the lock) come in one call."""
    assert apply(sim, tmp_path).exit_code == 0
    for name in sim.servers:
        reads = [r for r in sim.audit_records(name) if r.command == "Get-Item"]
        assert [r.parameters for r in reads] == [
            [["LiteralPath", ["Env:\\ExchangeInstallPath", "Env:\\ProgramData", "Env:\\windir"]]]
        ]
        created = [dict(r.parameters) for r in sim.audit_records(name) if r.command == "New-Item"]
        assert [c["Path"] for c in created if c["ItemType"] == "File"] == ["C:\\ProgramData\\remediate.lock"]
        folders = [c["Path"] for c in created if c["ItemType"] == "Directory"]
        assert folders and all(f.startswith("C:\\ProgramData\\remediate") for f in folders)


def test_a_target_s_bytes_travel_once(sim: Simulator, tmp_path: Path) -> None:
    """The plan reads web.config's bytes; the re-check before writing and the verification
    after compare SHA-256 on the server (Get-FileHash)."""
    assert apply(sim, tmp_path).exit_code == 0

    def calls(name: str, cmdlet: str) -> int:
        return sum(
            1
            for r in sim.audit_records(name)
            if r.command == cmdlet and any(str(v).lower().endswith(TARGET) for _, v in r.parameters)
        )

    for name in sim.servers:
        assert calls(name, "Get-Content") == 1
        assert calls(name, "Get-FileHash") == 2  # before writing; after the move

    # a rollback's preview compares the target with what the run wrote by SHA-256 too
    run = last_run(tmp_path)["id"]
    assert rollback(sim, tmp_path, run, "--dry-run").exit_code == 0
    for name in sim.servers:
        assert calls(name, "Get-Content") == 1
        assert calls(name, "Get-FileHash") == 3


def test_a_stale_lock_can_be_broken(sim: Simulator, tmp_path: Path) -> None:
    with sim.state("ex01").lock:
        lock = sim.machine("ex01").path("C:\\ProgramData\\remediate.lock", "C:\\")
        sim.state("ex01").write(
            lock, b'{"run": "20260101T000000-dead00", "operator": "someone", "since": "2026-01-01"}'
        )
    refused = apply(sim, tmp_path)
    assert refused.exit_code == 1 and "locked by run 20260101T000000-dead00 (someone" in refused.output
    # a run this journal does not know, from who knows where: remediate cannot tell it is dead
    unsure = apply(sim, tmp_path, "--break-lock")
    assert unsure.exit_code == 1 and "--break-lock 20260101T000000-dead00" in unsure.output
    assert apply(sim, tmp_path, "--break-lock", "20260101T000000-dead00").exit_code == 0
