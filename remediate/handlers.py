"""Restart handlers: what runs, once per server, after the steps that notified it changed something.

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

    def run(self, spec: Any, changer: Changer) -> None:
        if isinstance(spec, RestartIis):
            changer.restart_services(spec.services)
            return
        for pool in spec.pools:
            changer.recycle(pool)

    def health(self, spec: Any, changer: Changer) -> str | None:
        """What is not healthy yet after the handler ran (None: healthy)."""
        if isinstance(spec, RestartIis):
            states = changer.service_states(spec.services)
            down = [
                f"{name} is {states.get(name, 'missing')}"
                for name in spec.services
                if states.get(name) != "Running"
            ]
            if down:
                return ", ".join(down)
            pools = changer.pool_states(None)
            stopped = [name for name, state in pools.items() if state != "Started"]
            return f"{len(stopped)} app pool(s) not started" if stopped else None
        pools = changer.pool_states(list(spec.pools))
        stopped = [
            f"{name} is {pools.get(name, 'missing')}" for name in spec.pools if pools.get(name) != "Started"
        ]
        return ", ".join(stopped) if stopped else None


HANDLER_KINDS: dict[str, HandlerKind] = {
    "restart_iis": HandlerKind("restart_iis", RestartIis),
    "recycle_app_pools": HandlerKind("recycle_app_pools", RecycleAppPools),
}
