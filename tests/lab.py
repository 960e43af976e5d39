"""The simulated organization most tests use: a lab, easier than a real server in the two ways
the embedded `--host sim` is (/PowerShell also takes NTLM, and the snap-in needs no second
hop). tests/test_kerberos.py tests the real defaults with a KDC."""

from __future__ import annotations

from remediate.sim.scenario import Authentication

LAB = Authentication(exchange=["kerberos", "ntlm"], second_hop=False)
