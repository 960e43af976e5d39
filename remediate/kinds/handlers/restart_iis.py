"""`restart_iis`: restart IIS (`Restart-Service -Name W3SVC,WAS -Force`); the app pools stop and start."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from remediate.kinds.handlers import Services, left_alone, pools_not_back


class RestartIis(BaseModel):
    """Restart IIS: `Restart-Service -Name W3SVC,WAS -Force` (the app pools stop and start)."""

    model_config = ConfigDict(extra="forbid")
    services: list[str] = Field(default_factory=lambda: ["W3SVC", "WAS"], min_length=1)


class _RestartIis:
    kind = "restart_iis"
    spec = RestartIis

    def commands(self, spec: RestartIis) -> list[str]:
        return [f"Restart-Service -Name {','.join(spec.services)} -Force"]

    def baseline(self, spec: RestartIis, services: Services) -> dict[str, str]:
        return services.pool_states()

    def run(self, spec: RestartIis, services: Services, before: dict[str, str]) -> list[str]:
        services.restart_services(spec.services)
        kept = left_alone(before)
        listed = ", ".join(f"{pool} ({state})" for pool, state in kept.items())
        return [f"left as before: {listed}"] if kept else []

    def health(self, spec: RestartIis, services: Services, before: dict[str, str]) -> str | None:
        states, pools = services.running(spec.services)
        down = [
            f"{name} is {states.get(name, 'missing')}"
            for name in spec.services
            if states.get(name) != "Running"
        ]
        if down:
            return ", ".join(down)
        stopped = pools_not_back(before, pools)
        return ", ".join(stopped) if stopped else None


HANDLER = _RestartIis()
