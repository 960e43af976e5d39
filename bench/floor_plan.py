"""The floor for `remediate plan app-only-graph`: a minimal hand-written pypsrp script doing
the same remote work (one runspace pool per server, the same reads, close), reading up to
BENCH_FORKS (default 50) servers at once; the partner application is read once, through the first server.

    BENCH_SERVERS=127.0.0.1:5986,127.0.0.1:5987 BENCH_CA=ca.pem REMEDIATE_USERNAME=... \
    REMEDIATE_PASSWORD=... python bench/floor_plan.py
"""

from __future__ import annotations

import concurrent.futures
import os

from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.wsman import WSMan


def call(pool: RunspacePool, cmdlet: str, **parameters: object) -> list[object]:
    shell = PowerShell(pool)
    shell.add_cmdlet(cmdlet)
    for name, value in parameters.items():
        shell.add_parameter(name, value)
    return list(shell.invoke())


def read(server: str, organization: bool) -> None:
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
    with RunspacePool(wsman, configuration_name="Microsoft.PowerShell") as pool:
        call(pool, "Get-ItemProperty", LiteralPath="HKLM:\\SOFTWARE\\Microsoft\\ExchangeServer\\v15\\Setup")
        install = call(pool, "Get-Item", LiteralPath="Env:\\ExchangeInstallPath")[0]
        root = install.adapted_properties["Value"]  # type: ignore[attr-defined]
        web_config = f"{root}FrontEnd\\HttpProxy\\rest\\web.config"
        # 5.1 sends one object[] of boxed bytes: pypsrp hands back a list of ints
        content = bytes(call(pool, "Get-Content", LiteralPath=web_config, Encoding="Byte", ReadCount=0)[0])
        assert b"OAuthHttpModule.Profiles" in content
        if organization:
            call(pool, "Add-PSSnapin", Name="Microsoft.Exchange.Management.PowerShell.SnapIn")
            assert call(pool, "Get-PartnerApplication", Identity="Microsoft Graph")


def main() -> None:
    servers = os.environ["BENCH_SERVERS"].split(",")
    with concurrent.futures.ThreadPoolExecutor(int(os.environ.get("BENCH_FORKS", "50"))) as workers:
        for done in [workers.submit(read, server, index == 0) for index, server in enumerate(servers)]:
            done.result()


if __name__ == "__main__":
    main()
