"""Authentication as Exchange shops use it, against a real MIT KDC on loopback.

Kerberos from a `kinit` ticket with no password (HTTP with Kerberos message encryption, and
HTTPS), /PowerShell taking Kerberos only, the snap-in's second hop refused in preflight and
made with CredSSP or a delegated ticket, NTLM still working on /wsman, and password files.

The KDC needs Debian's krb5-kdc, krb5-admin-server and krb5-user and the gssapi package
(`.ci/run` installs them). Without them these tests are skipped, except where
REMEDIATE_KDC_REQUIRED is set (as `.ci/run` sets it): there they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from remediate.sim import Scenario, Simulator
from remediate.sim.scenario import Authentication, Rbac
from tests import kdc as kdcs
from tests.test_apply import cli, fingerprint, last_run, writes

PASSWORD = "Kerberos-Passw0rd!"
PRINCIPAL = f"administrator@{kdcs.REALM}"
SERVERS = ["ex01.contoso.lab", "ex02.contoso.lab"]


@pytest.fixture(scope="module")
def kdc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[kdcs.Kdc]:
    lacking = kdcs.missing()
    if lacking:
        message = f"no KDC here: missing {', '.join(lacking)}"
        if os.environ.get("REMEDIATE_KDC_REQUIRED"):
            pytest.fail(message)
        pytest.skip(message)
    directory = tmp_path_factory.mktemp("kdc")
    server = kdcs.start(directory)
    try:
        server.add_user("administrator", PASSWORD)
        server.add_servers(SERVERS)
        for fqdn in SERVERS:  # trusted for delegation: a client may delegate its ticket to them
            for service in ("host", "HTTP"):
                server.admin(f"modprinc +ok_as_delegate {service}/{fqdn}")
        with pytest.MonkeyPatch.context() as patch:
            for name, value in server.env.items():
                patch.setenv(name, value)
            patch.setenv("KRB5_KTNAME", f"FILE:{server.keytab}")  # the simulator's keys
            yield server
    finally:
        server.stop()


@pytest.fixture
def ticket(kdc: kdcs.Kdc, tmp_path: Path) -> dict[str, str]:
    """A fresh ticket cache holding administrator's ticket; the environment that uses it."""
    cache = tmp_path / "ccache"
    kdc.kinit(PRINCIPAL, PASSWORD, cache)
    return {"KRB5CCNAME": f"FILE:{cache}", "REMEDIATE_PASSWORD": "", "REMEDIATE_USERNAME": ""}


def organization(**authentication: Any) -> Scenario:
    """The real defaults unless told: /PowerShell Kerberos only, the second hop modelled.
    The account is the KDC's administrator (its password is the same on both sides)."""
    from remediate.sim.scenario import Credential

    return Scenario(
        servers=2,
        credentials=[Credential(username="administrator", password=PASSWORD)],
        authentication=Authentication(**authentication),
        rbac=Rbac(app_only_permissions=True),
    )


def reach(sim: Simulator, server: str = "ex01", *, transport: str = "https") -> list[str]:
    endpoint = sim.servers[server]
    return [
        "--host",
        f"{endpoint.host}:{endpoint.port}",
        "--spn-hostname",
        endpoint.fqdn,
        "--exchange-port",
        str(endpoint.port),
        "--transport",
        transport,
        "--ca-file",
        str(sim.ca_file),
    ]


def inventory(sim: Simulator, tmp_path: Path, **extra: Any) -> Path:
    """Both servers, named as the domain knows them (spn_hostname), for Kerberos."""
    lines = ["defaults:", f"  ca_file: {sim.ca_file}"]
    lines += [f"  {key}: {value}" for key, value in extra.items()]
    lines.append("servers:")
    for name, endpoint in sim.servers.items():
        lines += [
            f"  {name}:",
            f"    host: {endpoint.host}",
            f"    port: {endpoint.port}",
            f"    exchange_port: {endpoint.port}",
            f"    spn_hostname: {endpoint.fqdn}",
        ]
    path = tmp_path / "contoso.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


# -- Kerberos from a ticket ------------------------------------------------------------------------


def test_plan_with_the_embedded_simulator_from_a_ticket_and_no_password(
    ticket: dict[str, str], tmp_path: Path
) -> None:
    result = cli(tmp_path, "plan", "app-only-graph", "--host", "sim", "--auth", "kerberos", env=ticket)
    assert result.exit_code == 0, result.output
    assert "Plan: 2 to change, 0 unchanged, 0 errors on 1 server." in result.output


@pytest.mark.parametrize("transport", ["http", "https"])
def test_apply_and_rollback_with_kerberos_and_a_delegated_ticket(
    start_sim: Any, ticket: dict[str, str], tmp_path: Path, transport: str
) -> None:
    """No password anywhere: the ticket logs on (over HTTP, Kerberos seals every message) and,
    delegated to servers trusted for delegation, carries the snap-in's second hop."""
    sim = start_sim(organization(kerberos_delegation=True))
    original = fingerprint(sim)
    state = tmp_path / "state"
    args = [
        "-i",
        str(inventory(sim, tmp_path, transport=transport)),
        "--auth",
        "kerberos",
        "--kerberos-delegate",
    ]
    applied = cli(state, "apply", "app-only-graph", *args, "--yes", "--health-timeout", "5", env=ticket)
    assert applied.exit_code == 0, applied.output
    assert "succeeded" in applied.output
    run = last_run(state)
    assert run["operator"].endswith(f"as {PRINCIPAL}")  # who logged on, from the ticket
    undone = cli(state, "rollback", run["id"], "--yes", "--health-timeout", "5", env=ticket)
    assert undone.exit_code == 0, undone.output
    assert fingerprint(sim) == original


def test_negotiate_uses_the_ticket_when_one_is_held(
    start_sim: Any, ticket: dict[str, str], tmp_path: Path
) -> None:
    """The default --auth negotiate prefers Kerberos: with a ticket and no password it asks
    for nothing (without a ticket, and no terminal, it would fail with password-missing)."""
    sim = start_sim(organization())
    result = cli(tmp_path, "plan", "rest-v1s2s-profile", *reach(sim), env=ticket)
    assert result.exit_code == 0, result.output
    assert "1 to change" in result.output
    without = cli(
        tmp_path,
        "plan",
        "rest-v1s2s-profile",
        *reach(sim),
        env={**ticket, "KRB5CCNAME": f"FILE:{tmp_path}/none"},
    )
    assert without.exit_code == 1 and "username-missing" in without.output


def test_kerberos_with_a_password_gets_its_own_ticket(start_sim: Any, kdc: kdcs.Kdc, tmp_path: Path) -> None:
    sim = start_sim(organization())
    env = {"KRB5CCNAME": f"FILE:{tmp_path / 'empty-cache'}", "REMEDIATE_PASSWORD": PASSWORD}
    result = cli(
        tmp_path, "plan", "rest-v1s2s-profile", *reach(sim), "--auth", "kerberos", "-u", PRINCIPAL, env=env
    )
    assert result.exit_code == 0, result.output
    assert "1 to change" in result.output


def test_an_unknown_spn_is_named(start_sim: Any, ticket: dict[str, str], tmp_path: Path) -> None:
    sim = start_sim(organization())
    endpoint = sim.servers["ex01"]
    result = cli(
        tmp_path,
        "plan",
        "rest-v1s2s-profile",
        "--host",
        f"{endpoint.host}:{endpoint.port}",
        "--spn-hostname",
        "ex09.contoso.lab",  # no such principal
        "--ca-file",
        str(sim.ca_file),
        "--auth",
        "kerberos",
        env=ticket,
    )
    assert result.exit_code == 1
    assert "kerberos-spn-unknown" in result.output and "--spn-hostname" in result.output, result.output


# -- /PowerShell: Kerberos only ------------------------------------------------------------------------


def test_the_exchange_endpoint_takes_kerberos_and_refuses_ntlm(
    start_sim: Any, ticket: dict[str, str], tmp_path: Path
) -> None:
    sim = start_sim(organization())
    kerberos = cli(
        tmp_path,
        "plan",
        "graph-app-only-permissions",
        *reach(sim),
        "--exchange",
        "remote",
        "--auth",
        "kerberos",
        env=ticket,
    )
    assert kerberos.exit_code == 0, kerberos.output
    assert "1 to change" in kerberos.output

    ntlm = cli(
        tmp_path / "ntlm",
        "plan",
        "graph-app-only-permissions",
        *reach(sim),
        "--exchange",
        "remote",
        "--auth",
        "ntlm",
        "-u",
        "CONTOSO\\administrator",
        env={"REMEDIATE_PASSWORD": PASSWORD},
    )
    assert ntlm.exit_code == 1
    assert "authentication-failed" in ntlm.output, ntlm.output
    assert "takes Kerberos only" in ntlm.output


def test_ntlm_still_works_on_the_server_endpoint(start_sim: Any, kdc: kdcs.Kdc, tmp_path: Path) -> None:
    sim = start_sim(organization())
    result = cli(
        tmp_path,
        "plan",
        "rest-v1s2s-profile",
        *reach(sim, transport="http"),
        "--auth",
        "ntlm",
        "-u",
        "CONTOSO\\administrator",
        env={"REMEDIATE_PASSWORD": PASSWORD},
    )
    assert result.exit_code == 0, result.output


# -- the second hop -----------------------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["ntlm", "kerberos"])
def test_the_second_hop_is_caught_by_preflight_before_anything_is_written(
    start_sim: Any, ticket: dict[str, str], tmp_path: Path, auth: str
) -> None:
    """The snap-in over a logon that cannot reach AD (NTLM; Kerberos not delegated): the plan
    names the second hop and the ways out, and apply writes nothing."""
    sim = start_sim(organization())
    who = ["-u", "CONTOSO\\administrator"] if auth == "ntlm" else []
    env = {**ticket, "REMEDIATE_PASSWORD": PASSWORD} if auth == "ntlm" else ticket
    result = cli(tmp_path, "apply", "app-only-graph", *reach(sim), "--auth", auth, *who, "--yes", env=env)
    assert result.exit_code == 1
    assert "exchange-second-hop" in result.output, result.output
    assert "--auth credssp" in result.output and "--kerberos-delegate" in result.output
    assert "plan-has-errors" in result.output
    assert writes(sim) == []


def test_credssp_makes_the_second_hop(start_sim: Any, kdc: kdcs.Kdc, tmp_path: Path) -> None:
    sim = start_sim(organization(credssp=True))
    original = fingerprint(sim)
    env = {"REMEDIATE_PASSWORD": PASSWORD}
    args = [*reach(sim), "--auth", "credssp", "-u", "CONTOSO\\administrator"]
    applied = cli(tmp_path, "apply", "app-only-graph", *args, "--yes", "--health-timeout", "5", env=env)
    assert applied.exit_code == 0, applied.output
    undone = cli(tmp_path, "rollback", last_run(tmp_path)["id"], "--yes", "--health-timeout", "5", env=env)
    assert undone.exit_code == 0, undone.output
    assert fingerprint(sim) == original


def test_plan_with_the_embedded_simulator_over_credssp(tmp_path: Path) -> None:
    result = cli(tmp_path, "plan", "app-only-graph", "--host", "sim", "--auth", "credssp")
    assert result.exit_code == 0, result.output
    assert "Plan: 2 to change, 0 unchanged, 0 errors on 1 server." in result.output


def test_a_server_of_an_inventory_logs_on_with_its_own_password_file(start_sim: Any, tmp_path: Path) -> None:
    """Per-server credentials by reference: ex02's password is in its own file."""
    sim = start_sim(servers=2)
    secret = tmp_path / "ex02.password"
    secret.write_text(sim.password)
    secret.chmod(0o600)
    lines = [
        "defaults:",
        f"  ca_file: {sim.ca_file}",
        "  username: wrong-user",
        "  password_env: NO_SUCH_VARIABLE",
    ]
    lines.append("servers:")
    for name, endpoint in sim.servers.items():
        lines += [f"  {name}:", f"    host: {endpoint.host}", f"    port: {endpoint.port}"]
    lines += [f"    username: {sim.username}", f"    password_file: {secret.name}"]  # ex02 only
    path = tmp_path / "inventory.yaml"
    path.write_text("\n".join(lines) + "\n")
    # ex01 has no password (the variable named is not set): refused before connecting
    refused = cli(tmp_path, "plan", "rest-v1s2s-profile", "-i", str(path), env={"REMEDIATE_PASSWORD": ""})
    assert refused.exit_code == 1 and "NO_SUCH_VARIABLE" in refused.output
    only_ex02 = cli(
        tmp_path,
        "plan",
        "rest-v1s2s-profile",
        "-i",
        str(path),
        "--limit",
        "ex02",
        env={"REMEDIATE_PASSWORD": ""},
    )
    assert only_ex02.exit_code == 0, only_ex02.output


def test_credssp_is_refused_over_http(tmp_path: Path) -> None:
    result = cli(
        tmp_path, "plan", "app-only-graph", "--host", "ex01", "--auth", "credssp", "--transport", "http"
    )
    assert result.exit_code == 1
    assert "credssp-over-http" in result.output


# -- passwords ------------------------------------------------------------------------------------------


def test_a_password_file_others_can_read_is_refused(start_sim: Any, tmp_path: Path) -> None:
    sim = start_sim()
    secret = tmp_path / "password"
    secret.write_text(sim.password + "\n")
    secret.chmod(0o644)
    args = ["plan", "rest-v1s2s-profile", *reach(sim), "-u", sim.username, "--password-file", str(secret)]
    refused = cli(tmp_path, *args, env={"REMEDIATE_PASSWORD": ""})
    assert refused.exit_code == 1 and "password-file-readable" in refused.output
    assert sim.password not in refused.output
    secret.chmod(0o600)
    accepted = cli(tmp_path, *args, env={"REMEDIATE_PASSWORD": ""})
    assert accepted.exit_code == 0, accepted.output


def test_an_inventory_never_holds_a_password(tmp_path: Path) -> None:
    path = tmp_path / "inventory.yaml"
    path.write_text("servers:\n  ex01:\n    password: hunter2\n")
    result = cli(tmp_path, "plan", "rest-v1s2s-profile", "-i", str(path))
    assert result.exit_code == 1
    assert "never written in an inventory" in result.output and "hunter2" not in result.output


def test_a_bloated_password_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    from remediate.app.credentials import MAX_PASSWORD_FILE, read_password_file
    from remediate.support.errors import RemediateError

    bloated = tmp_path / "password"
    descriptor = os.open(bloated, os.O_WRONLY | os.O_CREAT, 0o600)
    os.ftruncate(descriptor, 256 * 2**20)  # 256 MiB of NUL bytes: no line end anywhere
    os.close(descriptor)
    with pytest.raises(RemediateError) as refused:
        read_password_file(bloated)
    assert refused.value.reference == "password-file-invalid"
    assert str(MAX_PASSWORD_FILE) in refused.value.message


def test_servers_that_share_a_logon_ask_for_its_password_once(tmp_path: Path) -> None:
    """A rollback of an inventory run whose servers each recorded the same username: one
    prompt, not one per server (and none for a shared logon no server uses)."""
    from remediate.app.fleet import fleet_of_run

    class Asker:
        asked = 0

        def username(self) -> str:
            raise AssertionError("no server needs the shared logon")

        def given_password(self) -> str | None:
            return None

        def password(self) -> str:
            Asker.asked += 1
            return "pw"

    server = {
        "address": "",
        "port": None,
        "path": "wsman",
        "exchange_port": None,
        "exchange_path": "PowerShell",
    }
    hosts = {
        "given": ["-i contoso.yaml"],
        "username": None,
        "servers": {
            name: {**server, "address": name, "username": "CONTOSO\\ops"} for name in ("ex01", "ex02", "ex03")
        },
    }
    connection = {"transport": "https", "auth": "ntlm", "exchange": "snapin"}
    fleet = fleet_of_run(hosts, connection, username=None, ca_file=None, state_dir=tmp_path, asker=Asker())
    assert Asker.asked == 1
    assert {fleet.credentials_for(name).username for name in ("ex01", "ex02", "ex03")} == {"CONTOSO\\ops"}
