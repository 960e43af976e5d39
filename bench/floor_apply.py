"""The floor for `remediate apply app-only-graph`: a minimal hand-written pypsrp script doing
the same remote work (read, back up, write through a checked temporary file, verify, set the
partner application once and read it back, restart IIS, check it is up), server after server
in batches of BENCH_SERIAL (default 1), the servers of a batch at once.

    BENCH_SERVERS=127.0.0.1:5986,127.0.0.1:5987 BENCH_CA=ca.pem REMEDIATE_USERNAME=... \
    REMEDIATE_PASSWORD=... [BENCH_SERIAL=10] python bench/floor_apply.py
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import os

from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan

PROFILES = b'|CallbackV2" />'


def call(pool: RunspacePool, cmdlet: str, **parameters: object) -> list[object]:
    shell = PowerShell(pool)
    shell.add_cmdlet(cmdlet)
    for name, value in parameters.items():
        shell.add_parameter(name, None if value is True else value)
    output = list(shell.invoke())
    if shell.had_errors:
        raise RuntimeError(f"{cmdlet} failed: {shell.streams.error}")
    return output


def properties(value: object) -> dict[str, object]:
    return {**value.adapted_properties, **value.extended_properties}  # type: ignore[attr-defined]


def pool_for(server: str) -> RunspacePool:
    host, port = server.rsplit(":", 1)
    wsman = WSMan(
        host,
        port=int(port),
        ssl=True,
        auth=os.environ.get("BENCH_AUTH", "ntlm"),
        username=os.environ["REMEDIATE_USERNAME"],
        password=os.environ["REMEDIATE_PASSWORD"],
        cert_validation=os.environ["BENCH_CA"],
    )
    return RunspacePool(wsman, configuration_name="Microsoft.PowerShell")


def apply_server(server: str, organization: bool) -> None:
    with pool_for(server) as pool:
        # read
        call(pool, "Get-ItemProperty", LiteralPath="HKLM:\\SOFTWARE\\Microsoft\\ExchangeServer\\v15\\Setup")
        root = properties(call(pool, "Get-Item", LiteralPath="Env:\\ExchangeInstallPath")[0])["Value"]
        path = f"{root}FrontEnd\\HttpProxy\\rest\\web.config"
        # 5.1 sends one object[] of boxed bytes: pypsrp hands back a list of ints
        before = bytes(call(pool, "Get-Content", LiteralPath=path, Encoding="Byte", ReadCount=0)[0])
        after = before.replace(PROFILES, b'|CallbackV2|V1S2SAppOnly" />', 1)
        graph: dict[str, object] = {}
        if organization:
            call(pool, "Add-PSSnapin", Name="Microsoft.Exchange.Management.PowerShell.SnapIn")
            graph = properties(call(pool, "Get-PartnerApplication", Identity="Microsoft Graph")[0])
        # back up, write a temporary file, check it, move it over the target, read it back
        call(pool, "Copy-Item", LiteralPath=path, Destination=f"{path}.bak", Force=True)
        call(pool, "Set-Content", LiteralPath=f"{path}.tmp", Value=after, Encoding="Byte")
        written = properties(call(pool, "Get-FileHash", LiteralPath=f"{path}.tmp", Algorithm="SHA256")[0])
        assert str(written["Hash"]).lower() == hashlib.sha256(after).hexdigest()
        call(pool, "Move-Item", LiteralPath=f"{path}.tmp", Destination=path, Force=True)
        assert bytes(call(pool, "Get-Content", LiteralPath=path, Encoding="Byte", ReadCount=0)[0]) == after
        if organization:  # the partner application, then read it back
            permissions = [str(p) for p in graph["ActAsPermissions"]]  # type: ignore[attr-defined]
            call(pool, "Set-PartnerApplication", Identity="Microsoft Graph", AppOnlyPermissions=permissions)
            call(pool, "Get-PartnerApplication", Identity="Microsoft Graph")
        # restart IIS and check it is up
        call(pool, "Restart-Service", Name=["W3SVC", "WAS"], Force=True)
        call(pool, "Get-Service", Name=["W3SVC", "WAS"])
        call(pool, "Get-WebAppPoolState")


def main() -> None:
    servers = os.environ.get("BENCH_SERVERS", "").split(",") if os.environ.get("BENCH_SERVERS") else []
    if not servers:
        servers = [f"{os.environ['BENCH_HOST']}:{os.environ['BENCH_PORT']}"]
    serial = int(os.environ.get("BENCH_SERIAL", "1")) or len(servers)
    for start in range(0, len(servers), serial):
        batch = servers[start : start + serial]
        with concurrent.futures.ThreadPoolExecutor(len(batch)) as workers:
            done = [workers.submit(apply_server, s, start == 0 and i == 0) for i, s in enumerate(batch)]
            for future in done:
                future.result()


if __name__ == "__main__":
    main()
