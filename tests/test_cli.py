"""The command line as a user meets it: real processes, real output, real exit codes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

from remediate import __version__
from remediate.cli import main
from tests.test_journal import start_apply


def remediate(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "remediate", *args], capture_output=True, text=True, env=env, timeout=60
    )


def test_version() -> None:
    result = remediate("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"remediate {__version__}"


def test_help_lists_the_commands() -> None:
    result = remediate("--help")
    assert result.returncode == 0
    assert "Apply fixes to Microsoft Exchange servers over WinRM, safely." in result.stdout
    assert re.search(r"^\s+sim\s", result.stdout, re.MULTILINE)


def test_errors_are_rendered_with_reference_and_hint(tmp_path: Path) -> None:
    result = remediate("sim", "fault", "add", "restart", "--state", str(tmp_path), "--mode", "explode")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: sim-fault-invalid",
        "  x restart: mode: Input should be 'fail' or 'hang'",
        "  hint: see `remediate sim fault add --help`",
    ]


def test_sim_fault_add_takes_the_windows_behaviour_faults(tmp_path: Path) -> None:
    import json

    def add(kind: str, *options: str) -> subprocess.CompletedProcess[str]:
        return remediate("sim", "fault", "add", kind, "--state", str(tmp_path), *options)

    midway = ("--cmdlet", "Move-Item", "--when", "midway")
    added = [
        add("app-pool", "--pool", "MSExchangeOWAAppPool"),
        add("cmdlet-delay", *midway),
        add("cmdlet-error", *midway, "--argument", "web.config"),
    ]
    assert [r.returncode for r in added] == [0, 0, 0], [r.stderr for r in added]
    faults = [json.loads(r.stdout) for r in added]
    assert [f["kind"] for f in faults] == ["app-pool", "cmdlet-delay", "cmdlet-error"]
    assert faults[0]["pool"] == "MSExchangeOWAAppPool" and faults[2]["when"] == "midway"
    assert faults[1]["argument"] is None and faults[2]["argument"] == "web.config"
    refused = add("cmdlet-error", "--cmdlet", "X", "--when", "after")
    assert refused.returncode == 1 and "sim-fault-invalid" in refused.stderr


def test_usage_errors_exit_2() -> None:
    assert remediate("sim", "serve", "--servers", "0").returncode == 2


def test_sim_serve_prints_how_to_connect_and_stops_on_interrupt(tmp_path: Path) -> None:
    state = tmp_path / "state"
    process = subprocess.Popen(
        [
            sys.executable,
            "-X",
            "faulthandler",
            "-m",
            "remediate",
            "--state-dir",
            str(state),
            "sim",
            "serve",
            "--servers",
            "2",
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as at a terminal: a process started in the background by a shell without job
        # control (`cmd &` in a script) inherits SIGINT ignored, and Python then installs no
        # KeyboardInterrupt for it; the test must not depend on how pytest was started
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(lines)
        ports = [
            int(port)
            for port in re.findall(r"^\s+ex0\d\s+https://127\.0\.0\.1:(\d+)/wsman", text, re.MULTILINE)
        ]
        assert len(ports) == 2 and ports[0] != ports[1]
        ca_file = re.search(r"CA certificate: (\S+)", text).group(1)  # type: ignore[union-attr]
        password_file = re.search(r"password in (\S+)\)", text).group(1)  # type: ignore[union-attr]
        assert Path(ca_file).parent.parent == state / "sim"
        connection = WSMan(
            "127.0.0.1",
            port=ports[1],
            username="CONTOSO\\administrator",
            password=Path(password_file).read_text(),
            cert_validation=ca_file,
            auth="basic",
        )
        with RunspacePool(connection) as pool:
            shell = PowerShell(pool)
            shell.add_cmdlet("Get-Item").add_parameter("LiteralPath", "Env:\\COMPUTERNAME")
            assert shell.invoke()[0].adapted_properties["Value"] == "EX02"
        process.send_signal(signal.SIGINT)
        try:
            out, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:  # where it hangs: faulthandler dumps every thread on SIGABRT
            status = Path(f"/proc/{process.pid}/status").read_text()
            masks = [line for line in status.splitlines() if line.startswith(("SigBlk", "SigIgn", "SigCgt"))]
            parent = [
                line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("Sig")
            ]
            print("child", masks, "parent", parent, "handler", signal.getsignal(signal.SIGINT))
            process.send_signal(signal.SIGABRT)
            out, err = process.communicate(timeout=10)
            raise AssertionError(f"sim serve did not stop on Ctrl-C: {masks}\n{out}\n{err}") from None
        assert process.returncode == 0
        assert "simulator stopped" in out
    finally:
        if process.poll() is None:
            process.kill()
    audit = remediate("--state-dir", str(state), "sim", "audit", "--server", "ex02")
    assert [json.loads(line)["command"] for line in audit.stdout.splitlines()] == ["Get-Item"]


def test_state_dir_from_the_environment(tmp_path: Path) -> None:
    env = {**os.environ, "REMEDIATE_STATE_DIR": str(tmp_path / "from-env")}
    result = remediate("sim", "fault", "list", env=env)
    assert result.returncode == 0
    assert (tmp_path / "from-env").stat().st_mode & 0o777 == 0o700


def test_unexpected_errors_exit_3_with_a_crash_report(tmp_path: Path, monkeypatch: object) -> None:
    from remediate.sim import faults

    def explode(self: object) -> list[object]:
        raise RuntimeError("boom")

    monkeypatch.setattr(faults.FaultBook, "active", explode)  # type: ignore[attr-defined]
    result = CliRunner().invoke(main, ["--state-dir", str(tmp_path), "sim", "fault", "list"])
    assert result.exit_code == 3
    assert "error: unexpected" in result.output and "RuntimeError: boom" in result.output
    [report] = list(tmp_path.glob("crash-*.log"))
    assert "RuntimeError: boom" in report.read_text() and report.stat().st_mode & 0o077 == 0


def test_shell_completion_knows_playbooks_runs_and_inventory_groups(tmp_path: Path) -> None:
    import os
    import sys

    script = Path(sys.executable).parent / "remediate"
    inventory = tmp_path / "contoso.yaml"
    inventory.write_text("servers:\n  ex01: {}\n  ex02: {}\ngroups:\n  site-a: [ex01]\n", encoding="utf-8")

    def complete(*words: str) -> list[str]:
        env = {
            **os.environ,
            "_REMEDIATE_COMPLETE": "bash_complete",
            "COMP_WORDS": " ".join(["remediate", *words]),
        }
        env["COMP_CWORD"] = str(len(words))
        result = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=30)
        return [line.split(",", 1)[1] for line in result.stdout.splitlines() if line.startswith("plain,")]

    assert complete("plan", "app-only") == ["app-only-graph"]
    assert complete("apply", "-i", str(inventory), "--limit", "s") == ["site-a"]
    assert set(complete("apply", "-i", str(inventory), "--limit", "")) == {"site-a", "ex01", "ex02"}
    assert complete("--state-dir", str(tmp_path / "empty"), "rollback", "2026") == []
    from remediate.engine.journal import Journal

    journal = Journal.open(tmp_path / "state")
    run_id = start_apply(journal)
    journal.close()
    assert complete("--state-dir", str(tmp_path / "state"), "rollback", run_id[:8]) == [run_id]
    assert complete("--state-dir", str(tmp_path / "state"), "show", run_id[:8]) == [run_id]
