"""The simulator's persistent state: one organization and its servers, in a directory.

    <state>/org.json                 organization: partner applications, role entries, servers
    <state>/servers/<name>.json      one server: environment, registry, services, app pools, files
    <state>/blobs/<name>/<id>        file contents, byte for byte

Every change is written before the cmdlet that made it returns (atomic replace), so a
simulator killed at any moment restarts with the state its clients last saw.
Windows names are case-insensitive: every map is keyed by the lower-cased name and keeps the
original spelling for display.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import threading
import uuid
from pathlib import Path
from typing import Any

from remediate.sim import acl
from remediate.sim.latency import Latency
from remediate.sim.winpath import WinPath
from remediate.support.statedir import private_dir, write_private


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _write_json(path: Path, data: Any) -> None:
    write_private(path, json.dumps(data, indent=1, sort_keys=True).encode("utf-8"))


class ServerState:
    """One simulated Windows server. All access goes through `lock`."""

    def __init__(self, path: Path, blob_dir: Path, data: dict[str, Any]) -> None:
        self._path = path
        self._blobs = blob_dir
        self.data = data
        self.lock = threading.RLock()

    @property
    def name(self) -> str:
        return str(self.data["name"])

    @property
    def fqdn(self) -> str:
        return str(self.data["fqdn"])

    @property
    def build(self) -> str:
        return str(self.data["build"])

    @property
    def drives(self) -> frozenset[str]:
        return frozenset(self.data["drives"])

    @classmethod
    def load(cls, path: Path, blob_dir: Path) -> ServerState:
        data = json.loads(path.read_text(encoding="utf-8"))
        seed_security(data)  # a state written before the simulator kept descriptors
        return cls(path, blob_dir, data)

    def save(self) -> None:
        with self.lock:
            _write_json(self._path, self.data)

    # -- environment and registry ----------------------------------------------------

    def environment(self, name: str) -> tuple[str, str] | None:
        entry = self.data["environment"].get(name.lower())
        return (entry["name"], entry["value"]) if entry else None

    def registry_key(self, key: str) -> dict[str, Any] | None:
        found = self.data["registry"].get(key)
        return copy.deepcopy(found) if found else None

    def registry_subkeys(self, key: str) -> list[str]:
        prefix = key.rstrip("\\") + "\\"
        return [k for k in self.data["registry"] if k.startswith(prefix) and "\\" not in k[len(prefix) :]]

    def make_registry_key(self, path: WinPath) -> None:
        """One key (its parent exists: the caller checked)."""
        with self.lock:
            self.data["registry"][path.key] = {"path": path.text, "values": {}}
            self.save()

    def remove_registry_key(self, path: WinPath) -> None:
        with self.lock:
            prefix = path.key.rstrip("\\") + "\\"
            for key in [k for k in self.data["registry"] if k == path.key or k.startswith(prefix)]:
                del self.data["registry"][key]
            self.save()

    def set_registry_value(self, path: WinPath, name: str, kind: str, value: Any) -> None:
        with self.lock:
            values = self.data["registry"][path.key]["values"]
            existing = next((n for n in values if n.lower() == name.lower()), name)
            values[existing] = {"kind": kind, "value": value}
            self.save()

    def remove_registry_value(self, path: WinPath, name: str) -> bool:
        with self.lock:
            values = self.data["registry"][path.key]["values"]
            existing = next((n for n in values if n.lower() == name.lower()), None)
            if existing is None:
                return False
            del values[existing]
            self.save()
            return True

    # -- services and IIS ----------------------------------------------------------------

    def service(self, name: str) -> dict[str, Any] | None:
        return self.data["services"].get(name.lower())

    def services(self) -> list[dict[str, Any]]:
        return list(self.data["services"].values())

    def app_pool(self, name: str) -> dict[str, Any] | None:
        return self.data["app_pools"].get(name.lower())

    def app_pools(self) -> list[dict[str, Any]]:
        return list(self.data["app_pools"].values())

    # -- file system ---------------------------------------------------------------------

    def is_file(self, path: WinPath) -> bool:
        return path.key in self.data["files"]

    def is_dir(self, path: WinPath) -> bool:
        return path.key in self.data["dirs"]

    def exists(self, path: WinPath) -> bool:
        return self.is_file(path) or self.is_dir(path)

    def display(self, path: WinPath) -> str:
        """The path as it was created (Windows keeps the original case)."""
        entry = self.data["files"].get(path.key) or self.data["dirs"].get(path.key)
        if entry is None:
            return path.text
        return str(entry["path"])

    def file_entry(self, path: WinPath) -> dict[str, Any]:
        return dict(self.data["files"][path.key])

    def dir_entry(self, path: WinPath) -> dict[str, Any]:
        return dict(self.data["dirs"][path.key])

    def read(self, path: WinPath) -> bytes:
        entry = self.data["files"][path.key]
        return (self._blobs / entry["blob"]).read_bytes()

    def size(self, path: WinPath) -> int:
        entry = self.data["files"][path.key]
        return (self._blobs / entry["blob"]).stat().st_size

    def all_paths(self) -> list[str]:
        return [entry["path"] for entry in (*self.data["dirs"].values(), *self.data["files"].values())]

    def children(self, path: WinPath) -> list[str]:
        prefix = path.key.rstrip("\\") + "\\"
        return [
            entry["path"]
            for key, entry in (*self.data["dirs"].items(), *self.data["files"].items())
            if key.startswith(prefix) and "\\" not in key[len(prefix) :]
        ]

    def write(self, path: WinPath, content: bytes) -> None:
        """Create or replace a file. The caller checked that the parent directory exists."""
        with self.lock:
            blob = self._new_blob(content)
            stamp = now_iso()
            old = self.data["files"].get(path.key)
            self.data["files"][path.key] = {
                "path": old["path"] if old else path.text,
                "blob": blob,
                "created": old["created"] if old else stamp,
                "modified": stamp,
            }
            self.save()
            if old:
                self._drop_blob(old["blob"])

    def copy(self, source: WinPath, target: WinPath) -> None:
        with self.lock:
            self.write(target, self.read(source))

    def move(self, source: WinPath, target: WinPath) -> None:
        """Rename (File.Move): the target must not exist; Move-Item -Force deletes it first."""
        with self.lock:
            entry = self.data["files"].pop(source.key)
            old = self.data["files"].get(target.key)
            entry["path"] = target.text
            entry["modified"] = now_iso()
            self.data["files"][target.key] = entry
            self.save()
            if old:
                self._drop_blob(old["blob"])

    def remove(self, path: WinPath) -> None:
        with self.lock:
            if path.key in self.data["files"]:
                entry = self.data["files"].pop(path.key)
                self.save()
                self._drop_blob(entry["blob"])
                return
            prefix = path.key.rstrip("\\") + "\\"
            for key in [k for k in self.data["files"] if k.startswith(prefix)]:
                self._drop_blob(self.data["files"].pop(key)["blob"])
            for key in [k for k in self.data["dirs"] if k == path.key or k.startswith(prefix)]:
                del self.data["dirs"][key]
            self.save()

    # -- security descriptors ------------------------------------------------------------

    def security(self, path: WinPath) -> str:
        """The item's descriptor (SDDL): its own if one was set, else inherited, level by level,
        from its nearest ancestor that has one."""
        below: list[WinPath] = []
        current: WinPath | None = path
        while current is not None:
            entry = self.data["dirs"].get(current.key) or self.data["files"].get(current.key)
            if entry is not None and entry.get("sddl"):
                sddl = str(entry["sddl"])
                break
            below.append(current)
            current = current.parent
        else:
            sddl = acl.SEEDED["C:\\"]
        for level in reversed(below):
            sddl = acl.inherited(sddl, is_dir=level.is_root or self.is_dir(level))
        return sddl

    def set_security(self, path: WinPath, sddl: str) -> None:
        with self.lock:
            entry = self.data["dirs"].get(path.key) or self.data["files"].get(path.key)
            entry["sddl"] = sddl
            self.save()

    def make_dir(self, path: WinPath) -> None:
        with self.lock:
            current: WinPath | None = path
            while current is not None and current.key not in self.data["dirs"]:
                self.data["dirs"][current.key] = {"path": current.text, "created": now_iso()}
                current = current.parent
            self.save()

    def _new_blob(self, content: bytes) -> str:
        name = uuid.uuid4().hex
        with open(self._blobs / name, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        return name

    def _drop_blob(self, name: str) -> None:
        (self._blobs / name).unlink(missing_ok=True)


def seed_security(data: dict[str, Any]) -> None:
    """The folders whose descriptors a new Windows server has (sim.acl.SEEDED), unless set."""
    for text, sddl in acl.SEEDED.items():
        if text.endswith(":\\"):
            continue  # a drive's root is not kept as a folder: its descriptor is the default
        path = WinPath("FileSystem", text)
        entry = data["dirs"].setdefault(path.key, {"path": path.text, "created": now_iso()})
        entry.setdefault("sddl", sddl)
        parent = path.parent
        while parent is not None and not parent.is_root:
            data["dirs"].setdefault(parent.key, {"path": parent.text, "created": now_iso()})
            parent = parent.parent


class OrgState:
    """The organization-wide Exchange configuration (Active Directory, in real life)."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self._path = path
        self.data = data
        self.lock = threading.RLock()

    @classmethod
    def load(cls, path: Path) -> OrgState:
        return cls(path, json.loads(path.read_text(encoding="utf-8")))

    def save(self) -> None:
        with self.lock:
            _write_json(self._path, self.data)

    @property
    def organization(self) -> dict[str, str]:
        return dict(self.data["organization"])

    @property
    def server_names(self) -> list[str]:
        return list(self.data["servers"])

    @property
    def multi_valued_shape(self) -> str:
        return str(self.data["multi_valued_shape"])

    @property
    def latency(self) -> Latency:
        """How long the servers take (an organization saved before the model: none)."""
        return Latency.model_validate(self.data.get("latency") or {})

    @property
    def restart_seconds(self) -> float:
        restart = self.latency.restart_seconds
        return float(self.data["restart_seconds"] if restart is None else restart)

    def partner_applications(self) -> list[dict[str, Any]]:
        return self.data["partner_applications"]

    def role_entries(self) -> list[dict[str, Any]]:
        return self.data["role_entries"]

    def management_scopes(self) -> list[dict[str, Any]]:
        """RBAC management scopes (AD objects under the organization's RBAC container)."""
        return self.data.setdefault("management_scopes", [])


class Store:
    """A simulator state directory."""

    def __init__(self, root: Path) -> None:
        self.root = private_dir(root)
        self.org_path = self.root / "org.json"
        self.server_dir = self.root / "servers"
        self.blob_root = self.root / "blobs"

    @property
    def seeded(self) -> bool:
        return self.org_path.exists()

    def server_path(self, name: str) -> Path:
        return self.server_dir / f"{name.lower()}.json"

    def blob_dir(self, name: str) -> Path:
        return private_dir(self.blob_root / name.lower())

    def save_new(
        self, org: dict[str, Any], servers: list[dict[str, Any]], files: dict[str, dict[str, bytes]]
    ) -> None:
        """Write a freshly seeded organization. `files`: server -> display path -> bytes."""
        private_dir(self.server_dir)
        for server in servers:
            seed_security(server)
            state = ServerState(self.server_path(server["name"]), self.blob_dir(server["name"]), server)
            for text, content in files.get(server["name"], {}).items():
                path = WinPath("FileSystem", text)
                if path.parent is not None:
                    state.make_dir(path.parent)
                state.write(path, content)
            state.save()
        _write_json(self.org_path, org)  # last: its presence marks the state as complete

    def load(self) -> tuple[OrgState, dict[str, ServerState]]:
        org = OrgState.load(self.org_path)
        servers = {
            name.lower(): ServerState.load(self.server_path(name), self.blob_dir(name))
            for name in org.server_names
        }
        return org, servers
