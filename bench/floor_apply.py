"""The floor for `remediate apply app-only-graph` on one server: a minimal hand-written pypsrp
script doing the same remote work (read, back up, write through a checked temporary file,
verify, set the partner application and read it back, restart IIS, check it is up).

    BENCH_HOST=127.0.0.1 BENCH_PORT=5986 BENCH_CA=ca.pem REMEDIATE_USERNAME=... \
    REMEDIATE_PASSWORD=... python bench/floor_apply.py
"""

from __future__ import annotations

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


def main() -> None:
    wsman = WSMan(
        os.environ["BENCH_HOST"],
        port=int(os.environ["BENCH_PORT"]),
        ssl=True,
        auth="negotiate",
        username=os.environ["REMEDIATE_USERNAME"],
        password=os.environ["REMEDIATE_PASSWORD"],
        cert_validation=os.environ["BENCH_CA"],
    )
    with RunspacePool(wsman, configuration_name="Microsoft.PowerShell") as pool:
        # read
        call(pool, "Get-ItemProperty", LiteralPath="HKLM:\\SOFTWARE\\Microsoft\\ExchangeServer\\v15\\Setup")
        root = properties(call(pool, "Get-Item", LiteralPath="Env:\\ExchangeInstallPath")[0])["Value"]
        path = f"{root}FrontEnd\\HttpProxy\\rest\\web.config"
        # 5.1 sends one object[] of boxed bytes: pypsrp hands back a list of ints
        before = bytes(call(pool, "Get-Content", LiteralPath=path, Encoding="Byte", ReadCount=0)[0])
        call(pool, "Add-PSSnapin", Name="Microsoft.Exchange.Management.PowerShell.SnapIn")
        graph = properties(call(pool, "Get-PartnerApplication", Identity="Microsoft Graph")[0])
        after = before.replace(PROFILES, b'|CallbackV2|V1S2SAppOnly" />', 1)
        # back up, write a temporary file, check it, move it over the target, read it back
        call(pool, "Copy-Item", LiteralPath=path, Destination=f"{path}.bak", Force=True)
        call(pool, "Set-Content", LiteralPath=f"{path}.tmp", Value=after, Encoding="Byte")
        written = properties(call(pool, "Get-FileHash", LiteralPath=f"{path}.tmp", Algorithm="SHA256")[0])
        assert str(written["Hash"]).lower() == hashlib.sha256(after).hexdigest()
        call(pool, "Move-Item", LiteralPath=f"{path}.tmp", Destination=path, Force=True)
        assert bytes(call(pool, "Get-Content", LiteralPath=path, Encoding="Byte", ReadCount=0)[0]) == after
        # the partner application, then read it back
        permissions = [str(p) for p in graph["ActAsPermissions"]]  # type: ignore[union-attr]
        call(pool, "Set-PartnerApplication", Identity="Microsoft Graph", AppOnlyPermissions=permissions)
        call(pool, "Get-PartnerApplication", Identity="Microsoft Graph")
        # restart IIS and check it is up
        call(pool, "Restart-Service", Name=["W3SVC", "WAS"], Force=True)
        call(pool, "Get-Service", Name=["W3SVC", "WAS"])
        call(pool, "Get-WebAppPoolState")


if __name__ == "__main__":
    main()
