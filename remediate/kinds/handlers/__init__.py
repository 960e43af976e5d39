"""Handler kinds: what runs, once per server, after the steps that notified it changed something.

Every kind is one module with one object satisfying `HandlerKind`, listed in `REGISTRY`
(the playbook model and its JSON Schema pick it up from there). A handler acts through
`Services`, which only an execution holds.

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

from typing import Any, Protocol

from pydantic import BaseModel


class Services(Protocol):
    """What handlers may do on a server: restart and recycle, and read what runs."""

    @property
    def name(self) -> str: ...

    def restart_services(self, names: list[str]) -> None: ...

    def recycle(self, pool: str) -> None: ...

    def service_states(self, names: list[str]) -> dict[str, str]: ...

    def pool_state(self, name: str) -> str | None: ...

    def pool_states(self) -> dict[str, str]: ...

    def running(self, names: list[str]) -> tuple[dict[str, str], dict[str, str]]:
        """`service_states(names)` and `pool_states()`, read in one request."""
        ...

    def refresh_variant_configuration(self) -> None: ...


class HandlerKind(Protocol):
    kind: str
    spec: type[BaseModel]

    def commands(self, spec: Any) -> list[str]:
        """The calls it makes, as an administrator would read them."""
        ...

    def baseline(self, spec: Any, services: Services) -> dict[str, str]:
        """The app pools' states before the handler runs (health is judged against them)."""
        ...

    def run(self, spec: Any, services: Services, before: dict[str, str]) -> list[str]:
        """Run it; what it left as it was, and why, for the report."""
        ...

    def health(self, spec: Any, services: Services, before: dict[str, str]) -> str | None:
        """What is not healthy yet after it ran (None: healthy)."""
        ...


def pools_not_back(before: dict[str, str], now: dict[str, str]) -> list[str]:
    """The app pools that were Started before and are not now."""
    return [
        f"{name} is {now.get(name, 'missing')} (it was Started before)"
        for name, state in before.items()
        if state == "Started" and now.get(name) != "Started"
    ]


def left_alone(before: dict[str, str]) -> dict[str, str]:
    """The pools an administrator had stopped: a handler leaves them as they are."""
    return {pool: state for pool, state in before.items() if state != "Started"}


def _registry() -> dict[str, HandlerKind]:
    from remediate.kinds.handlers import (
        reboot_required,
        recycle_app_pools,
        refresh_variant_configuration,
        restart_iis,
    )

    modules = (restart_iis, recycle_app_pools, reboot_required, refresh_variant_configuration)
    return {module.HANDLER.kind: module.HANDLER for module in modules}


REGISTRY: dict[str, HandlerKind] = _registry()
