"""Preconditions: what must hold on a server before a playbook may change it.

preconditions:
  - exchange_build: {minimum: 15.1.544.27}   # Exchange 2016 CU3, where the REST endpoint appeared
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator


def parse_build(text: str) -> tuple[int, int, int, int]:
    parts = text.strip().split(".")
    if len(parts) != 4 or not all(part.isdigit() for part in parts):
        raise ValueError(f"{text!r} is not an Exchange build (four numbers, like 15.2.1748.10)")
    major, minor, build, revision = (int(part) for part in parts)
    return major, minor, build, revision


class BuildReader(Protocol):
    def exchange_build(self) -> str: ...


class ExchangeBuild(BaseModel):
    """The server runs at least this Exchange build (from the Setup registry key)."""

    model_config = ConfigDict(extra="forbid")
    minimum: str = Field(description="Four-part build, e.g. 15.1.544.27 for Exchange 2016 CU3.")

    @field_validator("minimum")
    @classmethod
    def _build(cls, value: str) -> str:
        parse_build(value)
        return value

    def failure(self, reader: BuildReader) -> str | None:
        """Why the server fails this precondition, or None."""
        build = reader.exchange_build()
        if parse_build(build) < parse_build(self.minimum):
            return f"runs Exchange {build}; this playbook needs {self.minimum} or later"
        return None


PRECONDITION_KINDS: dict[str, type[ExchangeBuild]] = {"exchange_build": ExchangeBuild}
