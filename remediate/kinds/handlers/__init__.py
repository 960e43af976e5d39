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

from remediate.support.errors import RemediateError

if TYPE_CHECKING:
    from remediate.winrm.writer import Changer


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
        states = {pool: changer.pool_state(pool) for pool in spec.pools}
        missing = [pool for pool, state in states.items() if state is None]
        if missing:
            raise RemediateError(
                "app-pool-missing",
                f"{changer.name}: no app pool named {', '.join(missing)}",
                "check the pool names in the playbook against IIS Manager (Application Pools)",
            )
        return {pool: str(state) for pool, state in states.items()}

    def run(self, spec: Any, changer: Changer, before: dict[str, str]) -> list[str]:
        """Run it; what it left as it was, and why, for the report."""
        kept = {pool: state for pool, state in before.items() if state != "Started"}
        listed = ", ".join(f"{pool} ({state})" for pool, state in kept.items())
        if isinstance(spec, RestartIis):
            changer.restart_services(spec.services)
            return [f"left as before: {listed}"] if kept else []
        for pool in spec.pools:
            if pool not in kept:
                changer.recycle(pool)
        # IIS cannot recycle a stopped pool; started later, it reads the new settings
        return [f"left as before, not recycled: {listed}"] if kept else []

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
            pools = {
                pool: changer.pool_state(pool) or "missing"
                for pool, state in before.items()
                if state == "Started"
            }
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
