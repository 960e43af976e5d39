"""`intact_web_config`: the file does not hold the literal %ExchangeInstallDir% a failed update leaves."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from remediate.kinds.preconditions import Check, PreflightReader

UNEXPANDED = "%ExchangeInstallDir%"
BACKSLASH = "\\"


class IntactWebConfig(BaseModel):
    """The file does not contain the literal %ExchangeInstallDir% a failed update leaves behind."""

    model_config = ConfigDict(extra="forbid")
    path: str


class _IntactWebConfig:
    kind = "intact_web_config"
    spec = IntactWebConfig
    hint = (
        "finish or repair the cumulative update (run its Setup again) or restore the file from a "
        "backup, then plan again"
    )

    def label(self, spec: IntactWebConfig) -> str:
        return BACKSLASH.join(spec.path.split(BACKSLASH)[-3:]) + " intact"

    def check(self, spec: IntactWebConfig, reader: PreflightReader) -> Check:
        path = reader.expand(spec.path)
        content = reader.read_file(path)
        problem = None
        if content is not None and UNEXPANDED.encode() in content:
            problem = (
                f"{path} contains the literal {UNEXPANDED} that a failed update leaves behind; remediate does "
                "not edit around it"
            )
        return Check(self.label(spec), problem)


PRECONDITION = _IntactWebConfig()
