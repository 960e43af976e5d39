"""Every cmdlet the simulator knows, by lower-cased name.

A cmdlet is added by writing it in one of these modules and listing it in that module's
CMDLETS; nothing else needs to change.
"""

from __future__ import annotations

from remediate.sim.cmdlets import (
    exchange,
    filesystem,
    outlook_anywhere,
    overrides,
    registry,
    security,
    services,
)
from remediate.sim.engine import Cmdlet

REGISTRY: dict[str, Cmdlet] = {
    cmdlet.name.lower(): cmdlet
    for module in (filesystem, registry, security, services, exchange, outlook_anywhere, overrides)
    for cmdlet in module.CMDLETS
}
