"""Server locks under attack (issue 12, item 4): --break-lock never breaks a live run's lock,
and a run releases only a lock that is still its own."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from remediate.sim import CmdletDelay, Simulator
from tests.test_apply import apply, apply_in_background, credentials, host_args, last_run

LOCK = "C:\\ProgramData\\remediate.lock"


@pytest.fixture
def sim(start_sim: Any) -> Simulator:
    return start_sim(servers=1, restart_seconds=0)  # type: ignore[no-any-return]


def lock_text(sim: Simulator) -> str | None:
    state = sim.state("ex01")
    with state.lock:
        path = sim.machine("ex01").path(LOCK, "C:\\")
        return state.read(path).decode() if state.exists(path) else None


def set_lock(sim: Simulator, holder: dict[str, Any]) -> None:
    with sim.state("ex01").lock:
        sim.state("ex01").write(sim.machine("ex01").path(LOCK, "C:\\"), json.dumps(holder).encode())


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_break_lock_never_breaks_a_live_run(sim: Simulator, tmp_path: Path) -> None:
    sim.inject(CmdletDelay(server="ex01", cmdlet="Copy-Item", seconds=4.0))
    first = apply_in_background(sim, tmp_path / "a", *host_args(sim))
    try:
        second = apply(sim, tmp_path / "b", "--break-lock")  # another journal: it sees the process
        assert second.exit_code == 1
        assert "is still in progress" in second.output and "never breaks a live run" in second.output
        out, _ = first.communicate(timeout=60)
        assert first.returncode == 0, out  # the first run was not disturbed
    finally:
        if first.poll() is None:
            first.kill()
    assert last_run(tmp_path / "a")["status"] == "succeeded"


def test_break_lock_breaks_a_provably_dead_run(sim: Simulator, tmp_path: Path) -> None:
    holder = {
        "run": "20261129T000000-dead01",
        "operator": "x",
        "host": socket.gethostname(),
        "pid": dead_pid(),
    }
    set_lock(sim, holder)
    assert apply(sim, tmp_path).exit_code == 1
    result = apply(sim, tmp_path, "--break-lock")
    assert result.exit_code == 0, result.output
    assert lock_text(sim) is None


def test_a_run_releases_only_its_own_lock(sim: Simulator, tmp_path: Path) -> None:
    # While the run restarts IIS, someone breaks its lock and another run takes the server.
    sim.inject(CmdletDelay(server="ex01", cmdlet="Restart-Service", seconds=1.0))
    other = {"run": "20261129T000000-other1", "operator": "y", "since": "now"}

    def someone_takes_the_server() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not [f for f in sim.faults.active() if f.fired]:
            time.sleep(0.02)
        set_lock(sim, other)

    thief = threading.Thread(target=someone_takes_the_server)
    thief.start()
    result = apply(sim, tmp_path)
    thief.join()
    assert result.exit_code == 0, result.output
    assert json.loads(lock_text(sim) or "{}") == other  # not removed from under the other run


def test_no_change_is_not_final_while_another_run_holds_the_server(sim: Simulator, tmp_path: Path) -> None:
    from tests.test_apply import cli

    def raw_reads() -> int:
        return len(
            [r for r in sim.audit_records() if r.command == "Get-Content" and "Raw" in dict(r.parameters)]
        )

    planned = cli(tmp_path, "plan", "app-only-graph", *host_args(sim)[:-2], env=credentials(sim))
    assert planned.exit_code == 0 and raw_reads() == 0  # with changes to make, no lock is read
    assert apply(sim, tmp_path).exit_code == 0  # now the server is as wanted ...
    set_lock(
        sim, {"run": "20261129T000000-other2", "operator": "CONTOSO\\jdoe", "since": "10:00"}
    )  # ... mid-run
    planned = cli(tmp_path, "plan", "app-only-graph", *host_args(sim)[:-2], env=credentials(sim))
    assert planned.exit_code == 0
    assert "locked by run 20261129T000000-other2 (CONTOSO\\jdoe, since 10:00)" in planned.output
    assert '"no change" is not final' in planned.output
    applied = apply(sim, tmp_path)
    assert applied.exit_code == 1
    assert (
        "server-locked" in applied.output and "nothing to change, but a run is in progress" in applied.output
    )
    assert last_run(tmp_path)["status"] == "refused"


def test_undoing_an_organization_change_never_reverts_another_runs(sim: Simulator, tmp_path: Path) -> None:
    # Run A writes the partner application, then fails its health check and rolls back. Between
    # its write and its undo, another run (on other servers) set the application to its own value.
    from remediate.sim import AppPoolFailure
    from tests.test_apply import app_only

    sim.inject(AppPoolFailure(server="ex01", pool="MSExchangeOWAAppPool"))
    sim.inject(CmdletDelay(server="ex01", cmdlet="Restart-Service", seconds=1.0))
    theirs = ["Mail.Read", "Mail.Send"]

    def another_run_writes() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not [f for f in sim.faults.active() if f.fired]:
            time.sleep(0.02)
        with sim.org.lock:
            graph = next(a for a in sim.org.partner_applications() if a["Name"] == "Microsoft Graph")
            graph["AppOnlyPermissions"] = list(theirs)
            sim.org.save()

    other = threading.Thread(target=another_run_writes)
    other.start()
    result = apply(sim, tmp_path)
    other.join()
    assert result.exit_code == 1
    assert "conflict" in result.output and "changed since this run wrote it" in result.output
    assert app_only(sim) == theirs  # not reverted to the snapshot
    assert last_run(tmp_path)["status"] == "rollback-incomplete"


def scopes(sim: Simulator) -> list[str]:
    with sim.org.lock:
        return [scope["Name"] for scope in sim.org.management_scopes()]


def test_runs_on_disjoint_servers_share_the_organization_lock(start_sim: Any, tmp_path: Path) -> None:
    # Run A (ex01 only) and run B (ex02 only) both would change the partner application.
    sim = start_sim(servers=2, restart_seconds=0)
    ex01, ex02 = (f"{sim.servers[n].host}:{sim.servers[n].port}" for n in ("ex01", "ex02"))
    common = ["--ca-file", str(sim.ca_file), "--exchange-port", str(sim.servers["ex01"].port)]
    # A holds its locks, about to write the partner application: B still plans to write it too
    sim.inject(CmdletDelay(server="ex01", cmdlet="Set-PartnerApplication", seconds=4.0))
    first = apply_in_background(sim, tmp_path / "a", "--host", ex01, *common, "--health-timeout", "5")
    try:
        assert scopes(sim) == ["remediate-organization-lock"]
        from tests.test_apply import cli

        second = cli(
            tmp_path / "b", "apply", "app-only-graph", "--host", ex02, *common, "--yes", env=credentials(sim)
        )
        assert second.exit_code == 1
        assert "the organization is locked by run" in second.output, second.output
        assert last_run(tmp_path / "b")["status"] == "refused"
        out, _ = first.communicate(timeout=60)
        assert first.returncode == 0, out
    finally:
        if first.poll() is None:
            first.kill()
    assert scopes(sim) == []  # released by its holder
    assert sim.state("ex02").exists(sim.machine("ex02").path("C:\\ProgramData", "C:\\"))
    assert not sim.state("ex02").exists(sim.machine("ex02").path(LOCK, "C:\\"))  # B let go of ex02 too


def test_an_unreadable_lock_is_not_taken_for_no_lock(sim: Simulator, tmp_path: Path) -> None:
    from remediate.sim import DenyAccess
    from tests.test_apply import cli

    assert apply(sim, tmp_path).exit_code == 0  # nothing left to change ...
    set_lock(sim, {"run": "20261129T000000-other3", "operator": "x", "since": "now"})
    sim.inject(DenyAccess(server="ex01", path=LOCK, operations="read"))  # ... and the lock unreadable
    planned = cli(tmp_path, "plan", "app-only-graph", *host_args(sim)[:-2], env=credentials(sim))
    assert "locked by unknown: the lock could not be read" in planned.output, planned.output
    applied = apply(sim, tmp_path)
    assert applied.exit_code == 1 and "server-locked" in applied.output
