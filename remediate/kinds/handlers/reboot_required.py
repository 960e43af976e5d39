"""`reboot_required`: says the server must be restarted for the change to take effect, and
restarts nothing (SCHANNEL and .NET read these settings when a process starts; a reboot is the
operator's to schedule)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from remediate.kinds.handlers import Services


class RebootRequired(BaseModel):
    """Report that a reboot is needed; restart nothing."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="the change takes effect when the server restarts")


class _RebootRequired:
    kind = "reboot_required"
    spec = RebootRequired

    def commands(self, spec: RebootRequired) -> list[str]:
        return ["(nothing is run: the server must be restarted by you)"]

    def baseline(self, spec: RebootRequired, services: Services) -> dict[str, str]:
        return {}

    def run(self, spec: RebootRequired, services: Services, before: dict[str, str]) -> list[str]:
        return [f"REBOOT REQUIRED: {spec.reason}"]

    def health(self, spec: RebootRequired, services: Services, before: dict[str, str]) -> str | None:
        return None


HANDLER = _RebootRequired()
