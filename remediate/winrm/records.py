"""remediate's folder on a server: the record of each run that touched it, and the exact
snapshots of what the run changed.

    %ProgramData%\\remediate\\                   owner-only (SYSTEM, Administrators), protected
        runs\\<run>\\record.json                  what the run did here (JSON, UTF-8)
        runs\\<run>\\<seq>.before, <seq>.after    a step's exact states (file bytes, property values)

Everything inside inherits the folder's descriptor. The folder gets it when remediate creates
it: `Get-Acl -LiteralPath %windir%\\System32\\config | Set-Acl -LiteralPath <folder>` (one
pipeline on the server: a descriptor cannot travel to the client and back as a live object),
and every run checks it before it writes (the `Sddl` Get-Acl reports): a folder others can
read is never written to. Every read and write is a real cmdlet with bound parameters; a
run id is checked before it becomes part of a path.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from remediate.support.errors import RemediateError
from remediate.winrm.reader import ServerReader
from remediate.winrm.wire import hashes_of
from remediate.winrm.writer import ServerWriter

FOLDER = "%ProgramData%\\remediate"
# a folder every Windows server has whose descriptor is SYSTEM and Administrators only,
# protected (belief: docs/fidelity.md, "Set-Acl"); the result is checked, not trusted
ACL_SOURCE = "%windir%\\System32\\config"
RUN_ID = re.compile(r"^\d{8}T\d{6}-[0-9a-f]{6}$")
MAX_RECORD_BYTES = 4 * 1024 * 1024
# who may hold an ACE on the folder: SYSTEM, Administrators, CREATOR OWNER, TrustedInstaller
_OWNERS = {
    "SY",
    "S-1-5-18",
    "BA",
    "S-1-5-32-544",
    "CO",
    "S-1-3-0",
    "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464",
}
_ACE = re.compile(r"\(([^;()]*);[^;()]*;[^;()]*;[^;()]*;[^;()]*;([^;()]*)\)")


def check_run_id(run_id: str) -> str:
    if not RUN_ID.match(run_id):
        raise RemediateError(
            "bad-run-id", f"{run_id!r} is not a remediate run id", "run ids look like 20261129T162335-1a2b3c"
        )
    return run_id


def private(sddl: str) -> bool:
    """Whether a folder's descriptor lets only SYSTEM and Administrators in: its DACL is
    protected (nothing inherited from %ProgramData%, where Users may read) and `owners_only`."""
    dacl = re.search(r"D:([A-Z]*)", sddl)
    if dacl is None or "P" not in dacl.group(1).replace("AI", "").replace("AR", ""):
        return False
    return owners_only(sddl)


def owners_only(sddl: str) -> bool:
    """Whether every allow ACE of a descriptor is for SYSTEM, Administrators (or CREATOR OWNER,
    TrustedInstaller)."""
    dacl = re.search(r"D:[A-Z]*((?:\([^()]*\))*)", sddl)
    aces = _ACE.findall(dacl.group(1)) if dacl else []
    return bool(aces) and all(kind != "A" or sid in _OWNERS for kind, sid in aces)


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


class RecordStore:
    """remediate's folder on one server."""

    def __init__(self, reader: ServerReader, writer: ServerWriter | None = None) -> None:
        self.reader = reader
        self._writer = writer

    @property
    def name(self) -> str:
        return self.reader.name

    @property
    def writer(self) -> ServerWriter:
        if self._writer is None:
            raise RuntimeError("a read-only record store cannot write")
        return self._writer

    @property
    def folder(self) -> str:
        return self.reader.expand(FOLDER)

    def run_folder(self, run_id: str) -> str:
        return f"{self.folder}\\runs\\{check_run_id(run_id)}"

    def record_path(self, run_id: str) -> str:
        return f"{self.run_folder(run_id)}\\record.json"

    def snapshot_path(self, run_id: str, seq: int, which: str) -> str:
        return f"{self.run_folder(run_id)}\\{int(seq)}.{'before' if which == 'before' else 'after'}"

    def owns(self, path: str) -> bool:
        """Whether `path` is a file inside remediate's folder on this server (no `..`, no other
        drive or stream, nothing but plain names below the folder)."""
        prefix = self.folder.lower() + "\\"
        if not path.lower().startswith(prefix):
            return False
        names = path[len(prefix) :].split("\\")
        return all(name not in ("", ".", "..") and not set(name) & set(':/*?"<>|') for name in names)

    # -- the folder ---------------------------------------------------------------------------

    def ensure_private(self) -> None:
        """Create the folder (owner-only) if it is missing, and check that it is owner-only."""
        sddl = self.reader.security(self.folder)
        if sddl is not None and private(sddl):
            return
        if sddl is None:
            self.writer.make_folder(self.folder)
        self.writer.copy_security(self.reader.expand(ACL_SOURCE), self.folder)
        sddl = self.reader.security(self.folder)
        if sddl is None or not private(sddl):
            raise RemediateError(
                "records-folder-not-private",
                f"{self.name}: {self.folder} can be read by others than SYSTEM and Administrators "
                f"({sddl or 'no descriptor'}); remediate keeps snapshots there, and wrote nothing",
                f'make it owner-only on the server: icacls "{self.folder}" /inheritance:r /grant:r '
                '"*S-1-5-18:(OI)(CI)F" "*S-1-5-32-544:(OI)(CI)F", then run again',
            )

    # -- writing ------------------------------------------------------------------------------

    def start_run(self, run_id: str) -> None:
        self.writer.make_folder(self.run_folder(run_id))

    def keep_all(self, run_id: str, states: list[tuple[int, str, bytes, str | None]]) -> list[str]:
        """The run's folder and each exact state (seq, "before"/"after", content, a file on the
        server holding it to copy, or None to write the bytes), made and checked against their
        SHA-256 in one request; the snapshots' paths, in order."""
        folder = self.run_folder(run_id)
        # -Force: a folder that exists is kept as it is
        commands: list[tuple[str, dict[str, Any]]] = [
            ("New-Item", {"ItemType": "Directory", "Path": folder, "Force": None})
        ]
        expected: dict[str, str] = {}
        for seq, which, content, copy_of in states:
            path = self.snapshot_path(run_id, seq, which)
            if copy_of is not None:
                commands.append(("Copy-Item", {"LiteralPath": copy_of, "Destination": path, "Force": None}))
            else:
                commands.append(("Set-Content", {"LiteralPath": path, "Value": content, "Encoding": "Byte"}))
            expected[path] = sha256(content)
        if expected:
            commands.append(("Get-FileHash", {"LiteralPath": list(expected), "Algorithm": "SHA256"}))
        result = self.writer.batch(
            commands, f"cannot keep the run's snapshots in {folder}", "the account must be an administrator"
        )
        found = hashes_of(result.output)  # New-Item's folder is not a hash
        wrong = [path for path, digest in expected.items() if found.get(path.lower()) != digest]
        if wrong:
            raise RemediateError(
                "snapshot-mismatch",
                f"{self.name}: the snapshot {wrong[0]} does not hold what was kept",
                "the target changed while it was copied, or the disk altered it; nothing was written: run again",
            )
        return list(expected)

    def write_record(self, run_id: str, content: bytes) -> None:
        """Replace the run's record: written beside it, then moved over it (a reader that finds
        no record, between Move-Item's two steps, reads the one beside it)."""
        path = self.record_path(run_id)
        self.writer.put_and_move(path + ".tmp", path, content)

    def remove_run(self, run_id: str) -> None:
        self.writer.remove_tree(self.run_folder(run_id))

    # -- reading ------------------------------------------------------------------------------

    def run_ids(self) -> list[str]:
        """The runs with a folder here, oldest first (run ids sort by time)."""
        names = self.reader.child_names(f"{self.folder}\\runs")
        return sorted(name for name in names if RUN_ID.match(name))

    def read_record(self, run_id: str) -> bytes | None:
        """The run's record here, exactly as kept; None if this server has none."""
        path = self.record_path(run_id)
        content = self.reader.read_bytes(path, MAX_RECORD_BYTES)
        if content is None:  # stopped between Move-Item's two steps: the new record is beside it
            content = self.reader.read_bytes(path + ".tmp", MAX_RECORD_BYTES)
        return content

    def read_snapshot(self, path: str, digest: str) -> bytes:
        """A snapshot's bytes, only if they are what the record says (by SHA-256)."""
        if not self.owns(path):
            raise RemediateError(
                "record-disagrees",
                f"{self.name}: a record points outside remediate's folder for a snapshot: {path}",
                "the record was edited on the server: remediate does not use it",
            )
        content = self.reader.read_bytes(path, MAX_RECORD_BYTES)
        if content is None:
            raise RemediateError(
                "snapshot-missing",
                f"{self.name}: the snapshot {path} is missing",
                "it was removed on the server; remediate cannot restore that step exactly",
            )
        if sha256(content) != digest:
            raise RemediateError(
                "snapshot-mismatch",
                f"{self.name}: the snapshot {path} does not match its record (SHA-256 {sha256(content)[:12]}, "
                f"recorded {digest[:12]})",
                "it was altered on the server: remediate never writes bytes that do not match their record",
            )
        return content
