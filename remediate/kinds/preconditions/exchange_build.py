"""`exchange_build`: the server runs at least this Exchange build."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from remediate.kinds.preconditions import Check, PreflightReader
from remediate.support.builds import product


def parse_build(text: str) -> tuple[int, int, int, int]:
    parts = text.strip().split(".")
    if len(parts) != 4 or not all(part.isdigit() for part in parts):
        raise ValueError(f"{text!r} is not an Exchange build (four numbers, like 15.2.1748.10)")
    major, minor, build, revision = (int(part) for part in parts)
    return major, minor, build, revision


class ExchangeBuild(BaseModel):
    """The server runs at least this Exchange build (from the Setup registry key)."""

    model_config = ConfigDict(extra="forbid")
    minimum: str = Field(description="Four-part build, e.g. 15.1.544.27 for Exchange 2016 CU3.")

    @field_validator("minimum")
    @classmethod
    def _build(cls, value: str) -> str:
        parse_build(value)
        return value


class _ExchangeBuild:
    kind = "exchange_build"
    spec = ExchangeBuild
    hint = "update the server, or leave it out of this run (--limit)"

    def check(self, spec: ExchangeBuild, reader: PreflightReader) -> Check:
        build = reader.exchange_build()
        problem = None
        if parse_build(build) < parse_build(spec.minimum):
            problem = (
                f"runs {product(build)} ({build}); this playbook needs {product(spec.minimum)} "
                f"({spec.minimum}) or later"
            )
        return Check(f"build >= {spec.minimum}", problem)


PRECONDITION = _ExchangeBuild()
