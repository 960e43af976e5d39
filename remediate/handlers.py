"""Restart handlers: what runs, once per server, after the steps that notified it changed something.

Health is judged against the server as it was before the handler ran: the services it
restarts must run, and every app pool that was started must be started again. An app pool an
administrator stopped stays stopped (IIS does not start a pool whose autoStart is false) and
is not held against the change.

handlers:
  - name: restart-iis
    restart_iis: {}
  - name: recycle-rest
    recycle_app_pools: {pools: [MSExchangeRestFrontEndAppPool]}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from remediate.changer import Changer


class RestartIis(BaseModel):
    """Restart IIS: `Restart-Service -Name W3SVC,WAS -Force` (the app pools stop and start)."""

    model_config = ConfigDict(extra="forbid")
    services: list[str] = Field(default_factory=lambda: ["W3SVC", "WAS"], min_length=1)


class RecycleAppPools(BaseModel):
    """Recycle named IIS app pools: `Restart-WebAppPool -Name <pool>` for each."""

    model_config = ConfigDict(extra="forbid")
    pools: list[str] = Field(min_length=1)


@dataclass(frozen=True)
class HandlerKind:
    name: str
    spec: type[BaseModel]

    def commands(self, spec: Any) -> list[str]:
        """The calls it makes, as an administrator would read them."""
        if isinstance(spec, RestartIis):
            return [f"Restart-Service -Name {','.join(spec.services)} -Force"]
        assert isinstance(spec, RecycleAppPools)
        return [f"Restart-WebAppPool -Name {pool}" for pool in spec.pools]

    def baseline(self, spec: Any, changer: Changer) -> dict[str, str]:
        """The app pools' states before the handler runs. Health is judged against it: a pool
        that ran before must run after; one an administrator stopped may stay stopped."""
        if isinstance(spec, RestartIis):
            return changer.pool_states()
        return {pool: changer.pool_state(pool) or "missing" for pool in spec.pools}

    def run(self, spec: Any, changer: Changer, before: dict[str, str]) -> list[str]:
        """Run it; what it left alone, and why."""
        if isinstance(spec, RestartIis):
            changer.restart_services(spec.services)
            return []
        skipped = []
        for pool in spec.pools:
            if before.get(pool) == "Started":
                changer.recycle(pool)
            else:  # IIS cannot recycle a stopped pool; started later, it reads the new settings
                skipped.append(f"{pool} not recycled: it was {before.get(pool, 'missing')} before")
        return skipped

    def health(self, spec: Any, changer: Changer, before: dict[str, str]) -> str | None:
        """What is not healthy yet after the handler ran (None: healthy): a service it restarted
        that is not running, or an app pool that was started before and is not now."""
        if isinstance(spec, RestartIis):
            states = changer.service_states(spec.services)
            down = [
                f"{name} is {states.get(name, 'missing')}"
                for name in spec.services
                if states.get(name) != "Running"
            ]
            if down:
                return ", ".join(down)
            pools = changer.pool_states()
        else:
            pools = {pool: changer.pool_state(pool) or "missing" for pool in spec.pools if pool in before}
        stopped = [
            f"{name} is {pools.get(name, 'missing')} (it was Started before)"
            for name, state in before.items()
            if state == "Started" and pools.get(name) != "Started"
        ]
        return ", ".join(stopped) if stopped else None


HANDLER_KINDS: dict[str, HandlerKind] = {
    "restart_iis": HandlerKind("restart_iis", RestartIis),
    "recycle_app_pools": HandlerKind("recycle_app_pools", RecycleAppPools),
}
