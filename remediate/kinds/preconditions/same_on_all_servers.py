"""`same_on_all_servers`: registry values that must be the same on every server of the run.

    - same_on_all_servers:
        what: TLS configuration
        registry:
          - key: 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Protocols\\TLS 1.2\\Server'
            names: [Enabled, DisabledByDefault]

Each server's values are read (Get-ItemProperty; a missing key or value is "missing", which
is a value too), then compared with the other servers of the run: the servers that differ
from the most common setting fail, each naming what differs. Servers outside the run are not
seen: run it with every server the setting must agree with.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from remediate.kinds.preconditions import Check, PreflightReader, shown
from remediate.kinds.resources.registry_value import KEY_PATTERN


class Values(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(pattern=KEY_PATTERN)
    names: list[str] = Field(min_length=1)


class SameOnAllServers(BaseModel):
    """Registry values that must be the same on every server of the run."""

    model_config = ConfigDict(extra="forbid")
    what: str = Field(min_length=1, description="What the values are, for people: TLS configuration.")
    registry: list[Values] = Field(min_length=1)
    hint: str | None = Field(default=None, description="What to do when the servers differ.")


class _SameOnAllServers:
    kind = "same_on_all_servers"
    spec = SameOnAllServers
    hint = "make the servers agree (the same playbook, e.g. tls12, applied to every one), then run again"
    across_servers = True

    def describe(self, spec: SameOnAllServers) -> str:
        count = sum(len(entry.names) for entry in spec.registry)
        keys = "; ".join(f"{entry.key} ({', '.join(entry.names)})" for entry in spec.registry)
        return f"the {spec.what} ({count} registry values) is the same on every server of the run: {keys}"

    def label(self, spec: SameOnAllServers) -> str:
        return f"same {spec.what}"

    def check(self, spec: SameOnAllServers, reader: PreflightReader) -> Check:
        observed = []
        for entry in spec.registry:
            values = reader.registry_values(entry.key) or {}
            for name in entry.names:
                observed.append((f"{entry.key}\\{name}", values.get(name)))
        return Check(self.label(spec), None, tuple(observed))

    def differs(self, spec: SameOnAllServers, mine: Check, theirs: Check, servers: list[str]) -> str:
        """The problem of a server whose values (`mine`) differ from the common ones."""
        common = dict(theirs.observed)
        differences = [
            f"{name} is {shown(value)} here, {shown(common.get(name))} on {', '.join(servers)}"
            for name, value in mine.observed
            if common.get(name) != value
        ]
        problem = f"has a {spec.what} that differs from the other servers': " + "; ".join(differences)
        return problem + (f" ({spec.hint})" if spec.hint else "")


PRECONDITION = _SameOnAllServers()
