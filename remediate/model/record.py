"""A run's record on a server: what the run did there, kept by the server itself.

The local journal is the crash-safe write-ahead log of the workstation that ran `apply`; the
record is what every administrator of the organization can read: the run, its playbook (name,
text and digest), who ran it from where, and per step the target, the SHA-256 of the state
before and after, its status and where its exact snapshots are kept (`%ProgramData%\\remediate`,
see `remediate.winrm.records`). A workstation that never saw the run can list it, show it and
roll it back from the records alone.

How the run reached its servers (`hosts.servers`: addresses, ports, connection settings) is
kept once per run, not once per record: a record holds its own server's entry, and the record
of the server the organization's steps went through holds every server's (they all ran that
step's handlers). Format 1 records held every server's in each, so a run on N servers wrote
N² entries, and `plan`, which reads one record per server, read them all. Taking a run in from
its records merges the entries (`merged_hosts`); format 1 records merge to the same.

A record is JSON (UTF-8). It is parsed strictly: a record that is not valid, was written by a
newer remediate (`format`), or disagrees with itself (its playbook text and digest) is an error
that names the server and the record, never a guess.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from remediate.support.errors import RemediateError

FORMAT = 2  # 2: `hosts.servers` as above (1: every server's in each record)
_DIGEST = r"^[0-9a-f]{64}$"
_RUN = r"^\d{8}T\d{6}-[0-9a-f]{6}$"


class RecordStep(BaseModel):
    """One step the run made (or undid) through this server."""

    model_config = ConfigDict(extra="forbid")
    seq: int = Field(ge=1)
    server: str
    step: str
    kind: str
    scope: Literal["server", "organization"]
    settings: dict[str, Any]
    target: str
    summary: str
    notify: list[str]
    status: str
    before_digest: str = Field(pattern=_DIGEST)
    after_digest: str = Field(pattern=_DIGEST)
    before: str | None = None  # the snapshot files on this server
    after: str | None = None
    snapshots_of: str = Field(pattern=_RUN)  # the run whose folder holds them (a rollback: the run it undid)


class PlaybookRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    source: str
    digest: str
    text: str = ""


class RunRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    format: int
    run: str = Field(pattern=_RUN)
    kind: Literal["apply", "rollback"]
    rolls_back: str | None = Field(default=None, pattern=_RUN)
    rolled_back_by: str | None = Field(default=None, pattern=_RUN)
    playbook: PlaybookRecord
    operator: str
    workstation: str
    pid: int
    change_id: str | None = None
    server: str  # the server this record is on
    servers: list[str]  # every server the run reached
    organization_via: str | None = None  # the server its organization steps went through
    hosts: dict[str, Any]  # how the run reached its servers (addresses, ports; never secrets)
    connection: dict[str, Any]
    handlers: dict[str, Any]
    status: str  # on this server: running, then what the run came to here
    started: str
    finished: str | None = None
    steps: list[RecordStep]

    def to_bytes(self) -> bytes:
        return json.dumps(self.model_dump(mode="json"), indent=1, sort_keys=True).encode("utf-8")


def own_hosts(hosts: dict[str, Any], server: str, every: bool) -> dict[str, Any]:
    """What a record on `server` keeps of how the run reached its servers: its own entry, or
    (`every`: the server the organization's steps went through) every server's."""
    servers = hosts.get("servers")
    if every or not isinstance(servers, dict) or server not in servers:
        return hosts
    return {**hosts, "servers": {server: servers[server]}}


def merged_hosts(records: list[RunRecord]) -> dict[str, Any]:
    """How the run reached its servers, from all its records: each server's own entry from its
    own record, the others from the record that holds them all (the organization's server; in
    format 1, every record). A record's word on another server's way in counts for no more: an
    edited record cannot send a later rollback, and its credentials, somewhere else."""
    merged: dict[str, Any] = {}
    servers: dict[str, Any] = {}
    for record in records:
        entries = record.hosts.get("servers") or {}
        every = record.format == 1 or record.server == record.organization_via
        for name, entry in entries.items():
            if name == record.server:
                servers[name] = entry
            elif every:
                servers.setdefault(name, entry)
        merged = {**record.hosts, **merged}
    return {**merged, "servers": servers}


def parse(content: bytes, server: str, where: str) -> RunRecord:
    """A record read from `server` (at `where`), checked."""
    try:
        data = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise RemediateError(
            "record-unreadable",
            f"{server}: {where} is not a remediate record ({error})",
            "it was damaged or edited on the server: remediate does not use it",
        ) from None
    version = data.get("format") if isinstance(data, dict) else None
    if isinstance(version, int) and version > FORMAT:
        raise RemediateError(
            "record-too-new",
            f"{server}: {where} was written by a newer remediate (record format {version}; this one knows up "
            f"to {FORMAT})",
            "use that version of remediate",
        )
    try:
        record = RunRecord.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        place = ".".join(str(part) for part in first["loc"])
        raise RemediateError(
            "record-unreadable",
            f"{server}: {where} is not a valid remediate record: {place}: {first['msg']}",
            "it was damaged or edited on the server: remediate does not use it",
        ) from None
    text = record.playbook.text
    if text and hashlib.sha256(text.encode("utf-8")).hexdigest() != record.playbook.digest:
        raise RemediateError(
            "record-disagrees",
            f"{server}: {where}: the playbook text does not match its digest",
            "the record was edited on the server: remediate does not use it",
        )
    return record
