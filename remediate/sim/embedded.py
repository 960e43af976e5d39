"""The simulator behind `--host sim`: started inside remediate's own process.

Its state persists under `<state-dir>/sim` (the directory `remediate sim serve` uses by
default), so a newcomer's changes are still there next time and no second terminal is
needed. It listens on free ports on 127.0.0.1 and stops with the process.

It is a lab, easier than a real server in two ways, so that the first command works with a
password and no domain: its /PowerShell endpoint also takes NTLM (there is no KDC), and its
Exchange snap-in reaches "Active Directory" from any logon (a real server needs the second
hop: --auth credssp, or Kerberos delegation). Its /wsman also takes CredSSP over HTTPS, so
that `--auth credssp` can be tried. `remediate sim serve` keeps the real defaults
unless its scenario says otherwise.
"""

from __future__ import annotations

from pathlib import Path

from remediate.sim.scenario import Authentication
from remediate.sim.simulator import Simulator

EMBEDDED_DIRECTORY = "sim"


def start_embedded(state_dir: Path) -> Simulator:
    lab = Authentication(exchange=["kerberos", "ntlm"], second_hop=False, credssp=True)
    return Simulator(state_dir / EMBEDDED_DIRECTORY, port=0, authentication=lab).start()
