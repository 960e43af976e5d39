"""`exchange_build`: the server runs at least this Exchange build.

    - exchange_build: {minimum: 15.1.544.27}          # one minimum for every version
    - exchange_build:                                  # a security update, per cumulative update
        minimum: [15.2.1118.11, 15.2.986.28, 15.1.2507.11, 15.1.2375.30]

A list names, per cumulative update (major.minor.build), the first revision that has what the
playbook needs: a server on a listed CU needs at least that revision; on a later CU of the
same version than any listed, it passes; on an earlier or unlisted CU, or another version, it
fails. (A security update is released for several CUs at once, so one minimum cannot say
"CU12 with the August 2022 update": 15.2.1118.7 is a later build than 15.2.986.29 yet lacks it.)
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from remediate.kinds.preconditions import Check, PreflightReader
from remediate.support.builds import product

Build = tuple[int, int, int, int]


def parse_build(text: str) -> Build:
    parts = text.strip().split(".")
    if len(parts) != 4 or not all(part.isdigit() for part in parts):
        raise ValueError(f"{text!r} is not an Exchange build (four numbers, like 15.2.1748.10)")
    major, minor, build, revision = (int(part) for part in parts)
    return major, minor, build, revision


class ExchangeBuild(BaseModel):
    """The server runs at least this Exchange build (from the Setup registry key)."""

    model_config = ConfigDict(extra="forbid")
    minimum: str | list[str] = Field(
        description="Four-part build, e.g. 15.1.544.27 for Exchange 2016 CU3; or a list: the first "
        "good build per cumulative update (a later CU of a listed version passes)."
    )

    @field_validator("minimum")
    @classmethod
    def _build(cls, value: str | list[str]) -> str | list[str]:
        builds = [value] if isinstance(value, str) else value
        if not builds:
            raise ValueError("name at least one build")
        cus = [parse_build(build)[:3] for build in builds]
        if len(set(cus)) != len(cus):
            raise ValueError("name each cumulative update (major.minor.build) once")
        return value


def supported(build: Build, minimums: list[Build]) -> Build | None:
    """None if `build` passes; else the minimum it falls short of (the version's earliest
    listed, when its CU is not listed)."""
    same_version = sorted(m for m in minimums if m[:2] == build[:2])
    if not same_version:
        return min(minimums)
    if build[:3] > same_version[-1][:3]:
        return None
    for minimum in same_version:
        if minimum[:3] == build[:3]:
            return None if build >= minimum else minimum
    later = [m for m in same_version if m[:3] > build[:3]]
    return later[0]


class _ExchangeBuild:
    kind = "exchange_build"
    spec = ExchangeBuild
    hint = "update the server, or leave it out of this run (--limit)"

    def describe(self, spec: ExchangeBuild) -> str:
        if isinstance(spec.minimum, str):
            return f"{product(spec.minimum)} ({spec.minimum}) or later"
        listed = ", ".join(f"{product(m)} {m}" for m in spec.minimum)
        return f"at least, on its cumulative update: {listed}; or a later cumulative update"

    def label(self, spec: ExchangeBuild) -> str:
        if isinstance(spec.minimum, str):
            return f"build >= {spec.minimum}"
        return f"build >= {len(spec.minimum)} CU minimums"

    def check(self, spec: ExchangeBuild, reader: PreflightReader) -> Check:
        build = reader.exchange_build()
        if isinstance(spec.minimum, str):
            problem = None
            if parse_build(build) < parse_build(spec.minimum):
                problem = (
                    f"runs {product(build)} ({build}); this playbook needs {product(spec.minimum)} "
                    f"({spec.minimum}) or later"
                )
            return Check(self.label(spec), problem)
        minimums = [parse_build(m) for m in spec.minimum]
        short = supported(parse_build(build), minimums)
        problem = None
        if short is not None:
            wanted = ".".join(str(part) for part in short)
            listed = ", ".join(f"{product(m)} ({m})" for m in spec.minimum)
            problem = (
                f"runs {product(build)} ({build}); this playbook needs at least {wanted} on that "
                f"cumulative update, or one of: {listed}, or a later cumulative update"
            )
        return Check(self.label(spec), problem)


PRECONDITION = _ExchangeBuild()
