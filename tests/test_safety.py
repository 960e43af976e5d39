"""Hardening: values never become code, hostile files are refused, secrets never leak, the
transport is verified and encrypted, state is owner-only, and a hung server never hangs
remediate. End to end through pypsrp against the simulator."""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree

from remediate.sim import CmdletDelay, RestartFailure, Simulator, Unreachable
from remediate.sim.scenario import Credential, Scenario
from tests.test_apply import app_only, cli, credentials, host_args, set_web_config, web_config, writes

# The cmdlets remediate may call (../shared/reference/cmdlets.md): nothing else ever runs.
ALLOWED = {
    "get-item",
    "get-itemproperty",
    "test-path",
    "get-content",
    "get-filehash",
    "set-content",
    "copy-item",
    "move-item",
    "remove-item",
    "new-item",
    "restart-service",
    "get-service",
    "restart-webapppool",
    "get-webapppoolstate",
    "add-pssnapin",
    "get-partnerapplication",
    "set-partnerapplication",
    "get-exchangeserver",
    "get-organizationconfig",  # the preflight of the Exchange access (the second hop)
    "get-managementroleentry",
    "new-managementscope",  # the organization lock
    "get-managementscope",
    "remove-managementscope",
    "get-childitem",  # the runs a server records
    "new-settingoverride",  # exchange_setting_override
    "get-settingoverride",
    "remove-settingoverride",
    "get-exchangediagnosticinfo",  # refresh_variant_configuration
    "new-itemproperty",  # registry_value
    "set-itemproperty",
    "remove-itemproperty",
    "get-acl",  # is remediate's folder owner-only?
    "set-acl",  # make it so (piped from Get-Acl on the server)
}
HOSTILE_TOKEN = "x'; Remove-Item C:\\ -Recurse -Force; '$(Stop-Computer -Force)`n\"<&>"
HOSTILE_VALUES = [
    "'; Remove-Item C:\\ -Recurse; '",
    "$(Stop-Computer -Force)",
    "`whoami`; & calc.exe",
    "line one\r\nline two",
    "@{a=1}; iex 'Get-Process'",
]


@pytest.fixture
def sim(start_sim: Any) -> Simulator:
    return start_sim(restart_seconds=0)  # type: ignore[no-any-return]


def playbook(tmp_path: Path, **values: Any) -> Path:
    """A playbook with chosen values, written as YAML by a YAML library (no quoting by hand)."""
    import yaml

    document = {
        "name": "hostile",
        "description": "values that look like PowerShell",
        "steps": [
            {
                "name": "a token",
                "xml_token": {
                    "path": "%ExchangeInstallPath%FrontEnd\\HttpProxy\\rest\\web.config",
                    "xpath": "/configuration/appSettings/add[@key='OAuthHttpModule.Profiles']/@value",
                    "separator": "|",
                    "token": values.get("token", HOSTILE_TOKEN),
                },
            },
            {
                "name": "a value",
                "scope": "organization",
                "exchange_object": {
                    "noun": "PartnerApplication",
                    "identity": values.get("identity", "Microsoft Graph"),
                    "property": "AppOnlyPermissions",
                    "value": values.get("value", HOSTILE_VALUES),
                },
            },
        ],
    }
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def connect(sim: Simulator, *, ca: bool = True) -> list[str]:
    """--host, --ca-file and --exchange-port for every command (host_args adds apply's --health-timeout)."""
    args = host_args(sim)[:-2]
    return args if ca else [a for a in args if a not in ("--ca-file", str(sim.ca_file))]


def no_code_ran(sim: Simulator) -> None:
    records = sim.audit_records()
    assert records and not [r for r in records if r.is_script]
    assert {r.command.lower() for r in records} <= ALLOWED


# -- values are values -----------------------------------------------------------------------------------


def test_values_that_look_like_powershell_reach_the_server_verbatim(sim: Simulator, tmp_path: Path) -> None:
    result = cli(tmp_path, "apply", str(playbook(tmp_path)), *host_args(sim), "--yes", env=credentials(sim))
    assert result.exit_code == 0, result.output
    no_code_ran(sim)
    [set_call] = [r for r in sim.audit_records() if r.command == "Set-PartnerApplication"]
    assert set_call.parameter("AppOnlyPermissions") == HOSTILE_VALUES
    assert sorted(app_only(sim)) == sorted(HOSTILE_VALUES)
    # the token went into the file as data: escaped for XML, and read back exactly
    root = etree.fromstring(web_config(sim))
    [value] = root.xpath("/configuration/appSettings/add[@key='OAuthHttpModule.Profiles']/@value")
    assert value.split("|")[-1] == HOSTILE_TOKEN
    assert sim.state("ex01").exists(sim.machine("ex01").path("C:\\ProgramData", "C:\\"))


def test_a_hostile_identity_is_only_ever_a_parameter_value(sim: Simulator, tmp_path: Path) -> None:
    identity = "Microsoft Graph'; Remove-Item C:\\ -Recurse; '$(Stop-Computer)"
    result = cli(
        tmp_path, "plan", str(playbook(tmp_path, identity=identity)), *connect(sim), env=credentials(sim)
    )
    assert result.exit_code == 1
    assert "exchange-object-missing" in result.output and identity in result.output
    no_code_ran(sim)
    gets = [r for r in sim.audit_records() if r.command == "Get-PartnerApplication"]
    assert [r.parameter("Identity") for r in gets] == [identity]


def test_a_hostile_username_is_only_data(start_sim: Any, tmp_path: Path) -> None:
    username = "o'brien$(Stop-Computer -Force)`;x"
    sim = start_sim(Scenario(credentials=[Credential(username=username, password="Pa55-w0rd-for-test")]))
    env = {"REMEDIATE_USERNAME": f"CONTOSO\\{username}", "REMEDIATE_PASSWORD": "Pa55-w0rd-for-test"}
    result = cli(tmp_path, "apply", "app-only-graph", *host_args(sim), "--yes", env=env)
    assert result.exit_code == 0, result.output
    no_code_ran(sim)
    [lock] = [r for r in sim.audit_records() if r.command == "New-Item" and r.parameter("ItemType") == "File"]
    assert json.loads(lock.parameter("Value"))["operator"].endswith(f" as CONTOSO\\{username}")


# -- hostile files on the server ---------------------------------------------------------------------------


def _xxe(port: int) -> bytes:
    return (
        b'<?xml version="1.0" encoding="utf-8"?>\r\n'
        b'<!DOCTYPE configuration [<!ENTITY x SYSTEM "http://127.0.0.1:%d/steal">]>\r\n'
        b"<configuration><appSettings>"
        b'<add key="OAuthHttpModule.Profiles" value="S2SAppActAs|&x;" />'
        b"</appSettings></configuration>\r\n" % port
    )


BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\r\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b']>\r\n<configuration><appSettings><add key="OAuthHttpModule.Profiles" value="&lol9;" />'
    b"</appSettings></configuration>"
)
HOSTILE_FILES = {
    "external entity": (None, "xml-dtd-refused"),
    "billion laughs": (BILLION_LAUGHS, "xml-dtd-refused"),
    "50 MB": (
        b'<configuration><appSettings><add key="OAuthHttpModule.Profiles" value="a" /></appSettings><!--'
        + b"x" * (50 * 1024 * 1024)
        + b"--></configuration>",
        "file-too-large",
    ),
    "invalid UTF-8": (
        b'<configuration><appSettings><add key="OAuthHttpModule.Profiles" value="a\xff\xfe" />'
        b"</appSettings></configuration>",
        "xml-encoding-unsupported",
    ),
    "UTF-16": (
        '<?xml version="1.0" encoding="utf-16"?><configuration><appSettings>'
        '<add key="OAuthHttpModule.Profiles" value="a" /></appSettings></configuration>'.encode("utf-16"),
        "xml-encoding-unsupported",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE_FILES))
def test_hostile_web_config_is_refused_clearly(sim: Simulator, tmp_path: Path, case: str) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.setblocking(False)
    try:
        content, reference = HOSTILE_FILES[case]
        set_web_config(sim, content if content is not None else _xxe(listener.getsockname()[1]))
        result = cli(tmp_path, "apply", "app-only-graph", *host_args(sim), "--yes", env=credentials(sim))
        assert result.exit_code == 1
        assert f"error: {reference}" in result.output or f"{reference}:" in result.output, result.output
        assert "Traceback" not in result.output
        assert writes(sim) == []
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing reached out for the entity
    finally:
        listener.close()


# -- secrets ------------------------------------------------------------------------------------------------


SECRET = "Kn0wn-P4ssw0rd!for~the&search"


def _forms(secret: str, username: str) -> list[bytes]:
    return [
        secret.encode("utf-8"),
        secret.encode("utf-16-le"),
        base64.b64encode(f"{username}:{secret}".encode()),
        base64.b64encode(secret.encode()),
    ]


def test_the_password_is_nowhere(start_sim: Any, tmp_path: Path) -> None:
    sim = start_sim(
        Scenario(credentials=[Credential(username="administrator", password=SECRET)]), restart_seconds=0
    )
    state, log_file, plan_file = tmp_path / "state", tmp_path / "remediate.log", tmp_path / "change.plan"
    env = credentials(sim)
    outputs = []

    def run(*args: str, environment: dict[str, str] = env) -> Any:
        result = cli(state, "-vv", "--log-file", str(log_file), *args, env=environment)
        outputs.append(result.output)
        return result

    hosts = connect(sim)
    assert run("plan", "app-only-graph", *hosts, "--out", str(plan_file)).exit_code == 0
    assert run("apply", str(plan_file), "--yes").exit_code == 0
    applied = json.loads(run("runs", "--output", "json").output)["runs"][0]["id"]
    run("show", applied)
    run("show", applied, "--output", "json")
    assert run("rollback", applied, "--yes", "--health-timeout", "5").exit_code == 0
    # Basic over https: the Authorization header carries the password, base64-encoded
    assert run("plan", "app-only-graph", *hosts, "--auth", "basic").exit_code == 0
    # a wrong password (the secret with a typo) and a failing apply
    wrong = {**env, "REMEDIATE_PASSWORD": SECRET + "x"}
    assert run("plan", "app-only-graph", *hosts, environment=wrong).exit_code == 1
    sim.inject(RestartFailure(server="ex01", mode="fail"))
    assert run("apply", "app-only-graph", *hosts, "--yes").exit_code == 1

    places: dict[str, bytes] = {"output": "\n".join(outputs).encode(), "log": log_file.read_bytes()}
    places["plan"] = plan_file.read_bytes()
    for path in state.rglob("*"):
        if path.is_file():
            places[str(path.relative_to(state))] = path.read_bytes()
    assert any(name.startswith("journal") for name in places), sorted(places)
    assert len(places["log"]) > 1000  # -vv: the log is full of detail, just not the password
    for name, data in places.items():
        for form in _forms(SECRET, sim.username):
            assert form not in data, f"the password ({form[:6]!r}...) is in {name}"


def test_the_authentication_exchange_is_nowhere(sim: Simulator, tmp_path: Path) -> None:
    """At -vvv pyspnego logs every NTLM/SPNEGO token: a challenge with its response can be
    cracked offline, so none may reach the console or the log file."""
    import re

    log_file = tmp_path / "remediate.log"
    for auth in ("ntlm", "negotiate"):
        result = cli(
            tmp_path / "state",
            "-vvv",
            "--log-file",
            str(log_file),
            "plan",
            "app-only-graph",
            *connect(sim),
            "--auth",
            auth,
            env=credentials(sim),
        )
        assert result.exit_code == 0, result.output
        for data in (result.output, log_file.read_text()):
            assert "SPNEGO step" in data  # the library did log them ...
            for run in re.findall(r"[A-Za-z0-9+/]{24,}={0,2}", data):
                for start in range(4):  # the token may start anywhere in a run
                    chunk = run[start:].rstrip("=")
                    decoded = base64.b64decode(chunk[: len(chunk) - len(chunk) % 4])
                    assert b"NTLMSSP\x00" not in decoded, run[:40]  # ... masked


# -- transport ---------------------------------------------------------------------------------------------


def test_insecure_is_loud_works_and_is_recorded(sim: Simulator, tmp_path: Path) -> None:
    hosts = connect(sim, ca=False)
    refused = cli(tmp_path, "plan", "app-only-graph", *hosts, env=credentials(sim))
    assert refused.exit_code == 1 and "certificate-untrusted" in refused.output
    result = cli(tmp_path, "apply", "app-only-graph", *hosts, "--insecure", "--yes", env=credentials(sim))
    assert result.exit_code == 0, result.output
    assert "WARNING: --insecure" in result.output and "NOT verified" in result.output
    run = json.loads(cli(tmp_path, "runs", "--output", "json").output)["runs"][0]
    shown = cli(tmp_path, "show", run["id"])
    assert "certificates NOT verified (--insecure)" in shown.output
    recorded = json.loads(cli(tmp_path, "show", run["id"], "--output", "json").output)
    assert recorded["connection"]["insecure"] is True


def test_insecure_over_http_and_basic_over_http_are_refused(tmp_path: Path) -> None:
    for extra, reference in (
        (["--insecure"], "insecure-over-http"),
        (["--auth", "basic"], "basic-over-http"),
    ):
        result = cli(
            tmp_path, "plan", "app-only-graph", "--host", "ex01.contoso.lab", "--transport", "http", *extra
        )
        assert result.exit_code == 1 and f"error: {reference}" in result.output


def test_an_inventory_cannot_ask_for_basic_over_http(tmp_path: Path) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text("servers:\n  ex01: {transport: http, auth: basic}\n", encoding="utf-8")
    result = cli(tmp_path, "plan", "app-only-graph", "-i", str(inventory), env={"REMEDIATE_USERNAME": "a"})
    assert result.exit_code == 1 and "basic-over-http" in result.output


def test_http_is_always_encrypted(sim: Simulator, tmp_path: Path) -> None:
    endpoint = sim.servers["ex01"]
    # the simulator, like WinRM with AllowUnencrypted=false, refuses plain-text HTTP ...
    plain = requests.post(
        f"http://{endpoint.host}:{endpoint.port}/wsman",
        data=b"<s:Envelope/>",
        headers={"Content-Type": "application/soap+xml;charset=UTF-8"},
        auth=requests.auth.HTTPBasicAuth(sim.username, sim.password),
        timeout=10,
    )
    assert plain.status_code in (401, 400, 500)
    # ... and remediate over http works: every message was sealed with the session key
    result = cli(
        tmp_path,
        "plan",
        "app-only-graph",
        *connect(sim, ca=False),
        "--transport",
        "http",
        env=credentials(sim),
    )
    assert result.exit_code == 0, result.output


# -- state on disk ----------------------------------------------------------------------------------------


def test_state_is_owner_only(sim: Simulator, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)  # a state directory someone made too open is tightened
    assert (
        cli(state, "apply", "app-only-graph", *host_args(sim), "--yes", env=credentials(sim)).exit_code == 0
    )
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    files = [p for p in state.rglob("*") if p.is_file()]
    assert any(p.name.startswith("journal") for p in files)
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_every_file_remediate_writes_is_owner_only(sim: Simulator, tmp_path: Path) -> None:
    state, elsewhere = tmp_path / "state", tmp_path / "shared"
    elsewhere.mkdir(mode=0o755)
    log, plan = elsewhere / "run.log", elsewhere / "change.plan"
    old_umask = os.umask(0o022)
    try:
        cli(state, "runs")  # the journal exists ...
        os.chmod(state / "journal.sqlite3", 0o644)  # ... and someone loosened it
        log.write_text("")
        os.chmod(log, 0o644)  # an existing log file, readable by all
        result = cli(
            state,
            "--log-file",
            str(log),
            "plan",
            "app-only-graph",
            *host_args(sim)[:-2],
            "--out",
            str(plan),
            env=credentials(sim),
        )
        assert cli(state, "runs").exit_code == 0  # opens the journal again
    finally:
        os.umask(old_umask)
    assert result.exit_code == 0, result.output
    for path in (log, plan, state / "journal.sqlite3"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


# -- a hung server never hangs remediate -------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_a_server_that_never_answers(sim: Simulator, tmp_path: Path) -> None:
    sim.inject(Unreachable(server="ex01", mode="blackhole"))
    result = cli(
        tmp_path,
        "plan",
        "app-only-graph",
        *connect(sim),
        "--timeout",
        "1",
        "--connect-timeout",
        "1",
        env=credentials(sim),
    )
    assert result.exit_code == 1 and "host-timeout" in result.output


@pytest.mark.timeout(120)
def test_a_command_that_never_ends_is_stopped(sim: Simulator, tmp_path: Path) -> None:
    sim.inject(CmdletDelay(server="ex01", cmdlet="Get-Content", seconds=3600))
    result = cli(tmp_path, "plan", "app-only-graph", *connect(sim), "--timeout", "2", env=credentials(sim))
    assert result.exit_code == 1 and "call-timeout" in result.output
    assert "Get-Content did not finish within 2s" in result.output
    stopped = [r for r in sim.audit_records() if r.command == "Get-Content"]
    assert stopped and stopped[0].outcome == "stopped"


@pytest.mark.timeout(120)
def test_a_restart_that_hangs_is_stopped_and_rolled_back(sim: Simulator, tmp_path: Path) -> None:
    before = web_config(sim)
    sim.inject(RestartFailure(server="ex01", mode="hang"))
    result = cli(
        tmp_path,
        "apply",
        "app-only-graph",
        *host_args(sim),
        "--yes",
        "--restart-timeout",
        "2",
        env=credentials(sim),
    )
    assert result.exit_code == 1 and "Restart-Service did not finish within 2s" in result.output
    assert web_config(sim) == before
    assert json.loads(cli(tmp_path, "runs", "--output", "json").output)["runs"][0]["status"] == "rolled-back"
