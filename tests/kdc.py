"""A throwaway MIT Kerberos KDC on loopback, for the Kerberos tests.

Its own realm (CONTOSO.LAB, the simulated organization's domain), an administrator principal
with a password, a service principal (host/ and HTTP/) for each simulated server in a keytab
the simulator accepts with, and `kinit` into a private ticket cache. Needs Debian's
krb5-kdc, krb5-admin-server and krb5-user (`.ci/run` installs them) and the gssapi package
(`pip install remediate[kerberos]`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

REALM = "CONTOSO.LAB"
PROGRAMS = ("krb5kdc", "kdb5_util", "kadmin.local", "kinit")
SBIN = ("/usr/sbin", "/usr/bin", "/sbin")


def _program(name: str) -> str | None:
    return shutil.which(name) or next((str(Path(d) / name) for d in SBIN if (Path(d) / name).exists()), None)


def missing() -> list[str]:
    """What this machine lacks to run a KDC and use it from Python."""
    lacking = [name for name in PROGRAMS if _program(name) is None]
    try:
        import gssapi  # noqa: F401
    except ImportError:
        lacking.append("the gssapi package (pip install 'remediate[kerberos]')")
    return lacking


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Kdc:
    directory: Path
    port: int
    process: subprocess.Popen[bytes]

    @property
    def env(self) -> dict[str, str]:
        return {
            "KRB5_CONFIG": str(self.directory / "krb5.conf"),
            "KRB5_KDC_PROFILE": str(self.directory / "kdc.conf"),
        }

    @property
    def keytab(self) -> Path:
        return self.directory / "servers.keytab"

    def admin(self, query: str) -> None:
        _run([_need("kadmin.local"), "-r", REALM, "-q", query], self.env)

    def add_user(self, name: str, password: str) -> None:
        self.admin(f"addprinc -pw {password} {name}")

    def add_servers(self, fqdns: list[str]) -> None:
        """host/ and HTTP/ principals for each server, their keys in `keytab`."""
        for fqdn in fqdns:
            for service in ("host", "HTTP"):
                self.admin(f"addprinc -randkey {service}/{fqdn}")
                self.admin(f"ktadd -k {self.keytab} {service}/{fqdn}")

    def kinit(self, principal: str, password: str, cache: Path, forwardable: bool = True) -> None:
        command = [_need("kinit"), *(["-f"] if forwardable else []), "-c", f"FILE:{cache}", principal]
        subprocess.run(
            command,
            input=f"{password}\n".encode(),
            env={**os.environ, **self.env},
            check=True,
            capture_output=True,
            timeout=30,
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _need(name: str) -> str:
    found = _program(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed (apt-get install krb5-kdc krb5-admin-server krb5-user)")
    return found


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.decode(errors='replace')}")


def start(directory: Path) -> Kdc:
    """A KDC for REALM serving on a free loopback port, with its files in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    (directory / "krb5.conf").write_text(
        f"""[libdefaults]
    default_realm = {REALM}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    forwardable = true
    udp_preference_limit = 1
[realms]
    {REALM} = {{
        kdc = 127.0.0.1:{port}
    }}
[domain_realm]
    .contoso.lab = {REALM}
    contoso.lab = {REALM}
"""
    )
    (directory / "kdc.conf").write_text(
        f"""[kdcdefaults]
    kdc_ports = {port}
    kdc_tcp_ports = {port}
[realms]
    {REALM} = {{
        database_name = {directory}/principal
        key_stash_file = {directory}/stash
        acl_file = {directory}/kadm5.acl
        max_life = 10h
        max_renewable_life = 1d
        supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
    }}
[logging]
    kdc = FILE:{directory}/kdc.log
"""
    )
    (directory / "kadm5.acl").write_text("")
    env = {"KRB5_CONFIG": str(directory / "krb5.conf"), "KRB5_KDC_PROFILE": str(directory / "kdc.conf")}
    _run([_need("kdb5_util"), "create", "-s", "-r", REALM, "-P", "master-key-for-tests"], env)
    process = subprocess.Popen(
        [_need("krb5kdc"), "-n", "-r", REALM, "-P", str(directory / "kdc.pid")],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"krb5kdc exited: {process.stderr.read().decode(errors='replace') if process.stderr else ''}"
            )
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError("krb5kdc did not listen within 20 s")
    return Kdc(directory, port, process)
