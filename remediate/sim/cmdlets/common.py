"""Pieces the simulated cmdlets share: path resolution, the usual errors, item objects."""

from __future__ import annotations

from typing import Any

from psrpcore.types import PSInt64

from remediate.sim.engine import Call, Param
from remediate.sim.records import FileAttributes, PSError, date_time, dotnet_object
from remediate.sim.winpath import PROVIDER_PATH_PREFIX, WinPath, has_wildcards, unescape, wildcard_regex

PATH = Param("Path", "strings", position=0)
LITERAL_PATH = Param("LiteralPath", "strings", aliases=("PSPath", "LP"))
FORCE = Param("Force", "switch")
CREDENTIAL = Param("Credential", "object")
FILTER = Param("Filter", "string")
INCLUDE = Param("Include", "strings")
EXCLUDE = Param("Exclude", "strings")
PATH_PARAMS = (PATH, LITERAL_PATH, FILTER, INCLUDE, EXCLUDE, CREDENTIAL)
PATH_SETS = (("Path", "LiteralPath"),)


def path_not_found(text: str) -> PSError:
    return PSError(
        f"Cannot find path '{text}' because it does not exist.",
        "PathNotFound",
        category="ObjectNotFound",
        exception="System.Management.Automation.ItemNotFoundException",
        target=text,
    )


def access_denied(text: str, error_id: str, *, prefix: str = "") -> PSError:
    return PSError(
        f"{prefix}Access to the path '{text}' is denied.",
        error_id,
        category="PermissionDenied",
        exception="System.UnauthorizedAccessException",
        target=text,
    )


def part_of_path_not_found(text: str, error_id: str) -> PSError:
    return PSError(
        f"Could not find a part of the path '{text}'.",
        error_id,
        category="ObjectNotFound",
        exception="System.IO.DirectoryNotFoundException",
        target=text,
    )


def provider_unsupported(target: str) -> PSError:
    return PSError(
        "Provider operation stopped because the provider does not support this operation.",
        "NotSupported",
        category="NotImplemented",
        exception="System.Management.Automation.PSNotSupportedException",
        target=target,
    )


def resolve_items(call: Call, *, must_exist: bool = True) -> list[WinPath]:
    """The items named by -LiteralPath or -Path (wildcards expanded), writing PathNotFound for misses."""
    machine, location = call.machine, call.session.location
    literal = call.get("LiteralPath")
    raw_paths: list[tuple[str, bool]] = [(p, True) for p in literal or []]
    raw_paths += [(p, False) for p in call.get("Path") or []]
    found: list[WinPath] = []
    for raw, is_literal in raw_paths:
        try:
            if not is_literal and has_wildcards(raw):
                matches = expand_wildcard(call, raw)
                if not matches and must_exist:
                    call.error(path_not_found(unescape(raw)))
                found.extend(matches)
                continue
            path = machine.path(raw if is_literal else unescape(raw), location)
        except PSError as error:
            call.error(error)
            continue
        if must_exist and not exists(call, path):
            call.error(path_not_found(path.text))
            continue
        found.append(path)
    return found


def expand_wildcard(call: Call, pattern: str) -> list[WinPath]:
    machine = call.machine
    base = machine.path(pattern.replace("*", "x").replace("?", "x"), call.session.location)
    provider_pattern = wildcard_regex(_absolute_pattern(pattern, call.session.location))
    if base.provider != "FileSystem":
        return []
    with machine.state.lock:
        candidates = machine.state.all_paths()
    return [WinPath("FileSystem", text) for text in sorted(candidates) if provider_pattern.match(text)]


def _absolute_pattern(pattern: str, location: str) -> str:
    pattern = pattern.replace("/", "\\")
    if len(pattern) > 1 and pattern[1] == ":":
        return pattern[0].upper() + pattern[1:]
    return location.rstrip("\\") + "\\" + pattern


def exists(call: Call, path: WinPath) -> bool:
    state = call.machine.state
    with state.lock:
        if path.provider == "FileSystem":
            return path.is_root and path.text[0] in state.drives or state.exists(path)
        if path.provider == "Environment":
            return path.name == "" or path.text == "Env:\\" or state.environment(path.name) is not None
        return state.registry_key(path.key) is not None or path.is_root


def fs_extended(path: WinPath, display: str, is_dir: bool) -> dict[str, Any]:
    parent = path.parent
    return {
        "PSPath": PROVIDER_PATH_PREFIX["FileSystem"] + display,
        "PSParentPath": PROVIDER_PATH_PREFIX["FileSystem"] + (parent.text if parent else ""),
        "PSChildName": display.rsplit("\\", 1)[-1],
        "PSDrive": dotnet_object(["System.Management.Automation.PSDriveInfo"], to_string=display[0]),
        "PSProvider": dotnet_object(
            ["System.Management.Automation.ProviderInfo"], to_string="Microsoft.PowerShell.Core\\FileSystem"
        ),
        "PSIsContainer": is_dir,
        "Mode": "d-----" if is_dir else "-a----",
        "BaseName": display.rsplit("\\", 1)[-1] if is_dir else display.rsplit("\\", 1)[-1].rsplit(".", 1)[0],
    }


def item_object(call: Call, path: WinPath) -> Any:
    """FileInfo or DirectoryInfo, as Get-Item and New-Item return them."""
    state = call.machine.state
    with state.lock:
        display = state.display(path)
        is_dir = path.is_root or state.is_dir(path)
        entry = state.dir_entry(path) if state.is_dir(path) else ({} if is_dir else state.file_entry(path))
        size = 0 if is_dir else state.size(path)
    name = display.rstrip("\\").rsplit("\\", 1)[-1] or display
    created = date_time(entry.get("created", "2024-01-01T00:00:00+00:00"))
    modified = date_time(entry.get("modified", entry.get("created", "2024-01-01T00:00:00+00:00")))
    common = {
        "Name": name,
        "FullName": display,
        "Extension": "" if is_dir or "." not in name else "." + name.rsplit(".", 1)[-1],
        "Exists": True,
        "CreationTime": created,
        "CreationTimeUtc": created,
        "LastWriteTime": modified,
        "LastWriteTimeUtc": modified,
        "Attributes": FileAttributes.Directory if is_dir else FileAttributes.Archive,
    }
    parent = path.parent
    if is_dir:
        type_names = ["System.IO.DirectoryInfo", "System.IO.FileSystemInfo", "System.MarshalByRefObject"]
        adapted = {
            **common,
            "Parent": parent.text.rsplit("\\", 1)[-1] if parent else None,
            "Root": display[:3],
        }
    else:
        type_names = ["System.IO.FileInfo", "System.IO.FileSystemInfo", "System.MarshalByRefObject"]
        adapted = {
            **common,
            "Length": PSInt64(size),
            "DirectoryName": parent.text if parent else "",
            "IsReadOnly": False,
        }
    return dotnet_object(type_names, adapted, fs_extended(path, display, is_dir), to_string=display)
