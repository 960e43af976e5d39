"""`recycle_app_pools`: recycle named IIS app pools (`Restart-WebAppPool -Name <pool>` each)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from remediate.kinds.handlers import Services, left_alone, pools_not_back
from remediate.support.errors import RemediateError


class RecycleAppPools(BaseModel):
    """Recycle named IIS app pools: `Restart-WebAppPool -Name <pool>` for each."""

    model_config = ConfigDict(extra="forbid")
    pools: list[str] = Field(min_length=1)


class _RecycleAppPools:
    kind = "recycle_app_pools"
    spec = RecycleAppPools

    def commands(self, spec: RecycleAppPools) -> list[str]:
        return [f"Restart-WebAppPool -Name {pool}" for pool in spec.pools]

    def baseline(self, spec: RecycleAppPools, services: Services) -> dict[str, str]:
        states = {pool: services.pool_state(pool) for pool in spec.pools}
        missing = [pool for pool, state in states.items() if state is None]
        if missing:
            raise RemediateError(
                "app-pool-missing",
                f"{services.name}: no app pool named {', '.join(missing)}",
                "check the pool names in the playbook against IIS Manager (Application Pools)",
            )
        return {pool: str(state) for pool, state in states.items()}

    def run(self, spec: RecycleAppPools, services: Services, before: dict[str, str]) -> list[str]:
        kept = left_alone(before)
        for pool in spec.pools:
            if pool not in kept:
                services.recycle(pool)
        # IIS cannot recycle a stopped pool; started later, it reads the new settings
        listed = ", ".join(f"{pool} ({state})" for pool, state in kept.items())
        return [f"left as before, not recycled: {listed}"] if kept else []

    def health(self, spec: RecycleAppPools, services: Services, before: dict[str, str]) -> str | None:
        now = {
            pool: services.pool_state(pool) or "missing"
            for pool, state in before.items()
            if state == "Started"
        }
        stopped = pools_not_back(before, now)
        return ", ".join(stopped) if stopped else None


HANDLER = _RecycleAppPools()
