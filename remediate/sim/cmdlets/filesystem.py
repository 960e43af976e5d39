"""Files and items: Test-Path, Get-Item, Get-ItemProperty, Get-Content, Set-Content,
Get-FileHash, Copy-Item, Move-Item, Remove-Item, New-Item (Windows PowerShell 5.1)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from psrpcore.types import PSByte, PSByteArray, PSInt64, PSNoteProperty, PSString

from remediate.sim.cmdlets.common import (
    CREDENTIAL,
    FORCE,
    LITERAL_PATH,
    PATH,
    PATH_PARAMS,
    PATH_SETS,
    access_denied,
    exists,
    expand_wildcard,
    item_object,
    part_of_path_not_found,
    path_not_found,
    provider_unsupported,
    resolve_items,
)
from remediate.sim.engine import Call, Cmdlet, Param
from remediate.sim.records import ObjectArray, PSError, custom_object, dotnet_object, not_simulated
from remediate.sim.winpath import PROVIDER_PATH_PREFIX, WinPath, has_wildcards, unescape, wildcard_regex

ENCODINGS = (
    "Unknown",
    "String",
    "Unicode",
    "Byte",
    "BigEndianUnicode",
    "UTF8",
    "UTF7",
    "UTF32",
    "Ascii",
    "Default",
    "Oem",
    "BigEndianUTF32",
)
ENCODING = Param(
    "Encoding",
    "enum",
    choices=ENCODINGS,
    type_name="Microsoft.PowerShell.Commands.FileSystemCmdletProviderEncoding",
)
_CODECS = {
    "Unknown": ("utf-16-le", b"\xff\xfe"),
    "String": ("utf-16-le", b"\xff\xfe"),
    "Unicode": ("utf-16-le", b"\xff\xfe"),
    "BigEndianUnicode": ("utf-16-be", b"\xfe\xff"),
    "UTF8": ("utf-8", b"\xef\xbb\xbf"),
    "UTF7": ("utf-7", b""),
    "UTF32": ("utf-32-le", b"\xff\xfe\x00\x00"),
    "BigEndianUTF32": ("utf-32-be", b"\x00\x00\xfe\xff"),
    "Ascii": ("ascii", b""),
    "Default": ("cp1252", b""),
    "Oem": ("cp437", b""),
}
_BOMS = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_LINE = re.compile(r"\r\n|\n|\r")
HASH_ALGORITHMS = ("SHA1", "SHA256", "SHA384", "SHA512", "MACTripleDES", "MD5", "RIPEMD160")

GET_CONTENT = "Microsoft.PowerShell.Commands.GetContentCommand"
_BOXED = tuple(PSByte(value) for value in range(256))  # items of a block: no notes of their own
SET_CONTENT = "Microsoft.PowerShell.Commands.SetContentCommand"


# -- Test-Path ------------------------------------------------------------------------------


def _test_path(call: Call) -> None:
    kind = call.get("PathType", "Any")
    values: list[tuple[str, bool]] = [(p, True) for p in call.get("LiteralPath") or []]
    values += [(p, False) for p in call.get("Path") or []]
    for raw, literal in values:
        try:
            path = call.machine.path(raw, call.session.location)
        except PSError:
            call.output(False)
            continue
        if call.get("IsValid"):
            call.output(True)
            continue
        if not literal and has_wildcards(raw):
            found = expand_wildcard(call, raw)
            call.output(bool(found) and all(_type_matches(call, p, kind) for p in found))
            continue
        call.output(exists(call, path) and _type_matches(call, path, kind))


def _type_matches(call: Call, path: WinPath, kind: str) -> bool:
    if kind == "Any":
        return True
    state = call.machine.state
    with state.lock:
        if path.provider == "FileSystem":
            container = path.is_root or state.is_dir(path)
        elif path.provider == "Registry":
            container = True
        else:
            container = path.text == "Env:\\"
    return container if kind == "Container" else not container


# -- Get-Item / Get-ItemProperty -------------------------------------------------------------


def _environment_entry(name: str, value: str) -> Any:
    return dotnet_object(
        ["System.Collections.DictionaryEntry", "System.ValueType"],
        {"Key": name, "Value": value},
        {
            "Name": name,  # the types.ps1xml AliasProperty for Key
            # CmdletProvider.WriteObject (ProviderBase.cs) adds these notes
            "PSPath": PROVIDER_PATH_PREFIX["Environment"] + name,
            "PSParentPath": PROVIDER_PATH_PREFIX["Environment"],
            "PSChildName": name,
            "PSDrive": dotnet_object(["System.Management.Automation.PSDriveInfo"], to_string="Env"),
            "PSProvider": dotnet_object(
                ["System.Management.Automation.ProviderInfo"],
                to_string="Microsoft.PowerShell.Core\\Environment",
            ),
            "PSIsContainer": False,
        },
        to_string="System.Collections.DictionaryEntry",
    )


def registry_key_object(path: WinPath, key: dict[str, Any], subkeys: int = 0) -> Any:
    return _registry_key(path, key, subkeys)


def _registry_key(path: WinPath, key: dict[str, Any], subkeys: int = 0) -> Any:
    native = path.ps_path.split("::", 1)[1]
    return dotnet_object(
        ["Microsoft.Win32.RegistryKey", "System.MarshalByRefObject"],
        {
            "Name": native,
            "SubKeyCount": subkeys,
            "ValueCount": len(key["values"]),
            "View": "Default",
        },
        {"Property": list(key["values"]), "PSPath": path.ps_path, "PSChildName": path.name},
        to_string=native,
    )


def _get_item(call: Call) -> None:
    state = call.machine.state
    for path in resolve_items(call):
        if path.provider == "Environment":
            with state.lock:
                found = state.environment(path.name)
            if found:
                call.output(_environment_entry(*found))
        elif path.provider == "Registry":
            key = state.registry_key(path.key)
            if key:
                call.output(_registry_key(path, key, len(state.registry_subkeys(path.key))))
        else:
            call.output(item_object(call, path))


def _registry_value(value: dict[str, Any]) -> Any:
    return int(value["value"]) if value["kind"] == "DWord" else value["value"]


def _get_item_property(call: Call) -> None:
    state = call.machine.state
    names = call.get("Name")
    for path in resolve_items(call):
        if path.provider != "Registry":
            call.output(item_object(call, path) if path.provider == "FileSystem" else None)
            continue
        key = state.registry_key(path.key)
        assert key is not None
        values = key["values"]
        selected: dict[str, Any] = {}
        lookup = {name.lower(): name for name in values}
        for wanted in names or list(values):
            actual = lookup.get(wanted.lower())
            if actual is None:
                native = path.ps_path.split("::", 1)[1]
                call.error(
                    PSError(
                        f"Property {wanted} does not exist at path {native}.",
                        "System.Management.Automation.PSArgumentException",
                        category="InvalidArgument",
                        exception="System.Management.Automation.PSArgumentException",
                        target=wanted,
                    )
                )
                continue
            selected[actual] = _registry_value(values[actual])
        if not selected:
            continue
        parent = path.parent
        call.output(
            custom_object(
                **selected,
                PSPath=path.ps_path,
                PSParentPath=parent.ps_path if parent else "",
                PSChildName=path.name,
                PSDrive=dotnet_object(["System.Management.Automation.PSDriveInfo"], to_string="HKLM"),
                PSProvider=dotnet_object(
                    ["System.Management.Automation.ProviderInfo"],
                    to_string="Microsoft.PowerShell.Core\\Registry",
                ),
            )
        )


# -- Get-Content -------------------------------------------------------------------------------


def decode_text(data: bytes, encoding: str | None) -> str:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(codec, errors="replace")
    codec = _CODECS[encoding][0] if encoding and encoding != "Byte" else "cp1252"
    return data.decode(codec, errors="replace")


def _readable(call: Call, path: WinPath, error_id: str) -> bytes | None:
    """The bytes of a file, or None after writing the error PowerShell writes."""
    state = call.machine.state
    with state.lock:
        if not path.is_root and state.is_file(path):
            if call.machine.denied(path, "read"):
                call.error(access_denied(state.display(path), error_id))
                return None
            return state.read(path)
    call.error(access_denied(path.text, error_id))  # a directory: Windows says access denied
    return None


def _get_content(call: Call) -> None:
    """GetContentCommand.ProcessRecord: the reader returns blocks of -ReadCount items (0: all,
    up to -TotalCount) as an object[]; -ReadCount 1 writes each item alone. Each written
    object carries the provider's notes (ContentCommandBase.WriteContentObject)."""
    encoding = call.get("Encoding")
    read_count = call.get("ReadCount", 1)
    for path in resolve_items(call):
        if path.provider == "Environment":
            found = call.machine.state.environment(path.name)
            if found:
                call.output(found[1])
            continue
        data = _readable(call, path, "GetContentReaderUnauthorizedAccessError")
        if data is None or not data:
            continue
        display = call.machine.state.display(path)
        if encoding == "Byte" and call.get("Raw"):
            # a raw byte stream is read whole, as one byte[] (-TotalCount and -Tail do not apply)
            call.output(_with_content_notes(PSByteArray(data), path, display, 1))
            continue
        if encoding == "Byte":  # -TotalCount and -Tail count bytes
            items: list[Any] = [PSByte(b) if read_count == 1 else _BOXED[b] for b in _counted(call, data)]
        else:
            text = decode_text(data, encoding)
            if call.get("Raw"):
                call.output(_with_content_notes(PSString(text), path, display, 1))
                continue
            lines = _LINE.split(text)
            if lines and lines[-1] == "":
                lines.pop()
            items = [PSString(line) for line in _counted(call, lines)]
        _emit_blocks(call, items, read_count, path, display)


def _with_content_notes(value: Any, path: WinPath, display: str, read: int) -> Any:
    """ContentCommandBase.WriteContentObject: PSPath, PSParentPath, PSChildName, PSDrive,
    PSProvider (at remoting depth 1 a drive or provider goes out as its string), ReadCount (long)."""
    parent = path.parent
    notes = {
        "PSPath": PROVIDER_PATH_PREFIX["FileSystem"] + display,
        "PSParentPath": PROVIDER_PATH_PREFIX["FileSystem"] + (parent.text if parent else ""),
        "PSChildName": display.rsplit("\\", 1)[-1],
        "PSDrive": display[0],
        "PSProvider": "Microsoft.PowerShell.Core\\FileSystem",
        "ReadCount": PSInt64(read),
    }
    for name, note in notes.items():
        value.PSObject.extended_properties.append(PSNoteProperty(name, note))
    return value


def _counted(call: Call, items: Any) -> Any:
    """The first -TotalCount items, then the last -Tail of those."""
    total = call.get("TotalCount")
    if total is not None and total >= 0:
        items = items[:total]
    tail = call.get("Tail")
    if tail is not None and tail >= 0:
        items = items[len(items) - tail :] if tail else items[:0]
    return items


def _emit_blocks(call: Call, items: list[Any], read_count: int, path: WinPath, display: str) -> None:
    if read_count == 1:
        for number, item in enumerate(items, start=1):
            call.output(_with_content_notes(item, path, display, number))
        return
    size = len(items) if read_count <= 0 else read_count
    for start in range(0, len(items), max(size, 1)):
        block = ObjectArray(items[start : start + size])
        call.output(_with_content_notes(block, path, display, start + len(block)))


# -- Set-Content ---------------------------------------------------------------------------------


def _content_bytes(call: Call) -> bytes:
    values = call.get("Value") or []
    encoding = call.get("Encoding") or "Default"
    if encoding == "Byte":
        out = bytearray()
        for item in values:
            if isinstance(item, (bytes, bytearray)):
                out += item
            elif isinstance(item, int) and not isinstance(item, bool) and 0 <= item <= 255:
                out.append(item)
            else:
                raise PSError(
                    "Cannot proceed with byte encoding. When using byte encoding the content must be of type byte.",
                    "GetContentWriterArgumentError",
                    category="InvalidArgument",
                    exception="System.ArgumentException",
                    terminating=True,
                )
        return bytes(out)
    codec, bom = _CODECS[encoding]
    lines = [str(item) if not isinstance(item, bool) else str(item) for item in values]
    text = "".join(lines) if call.get("NoNewline") else "".join(line + "\r\n" for line in lines)
    return bom + text.encode(codec, errors="replace")


def _writable_target(call: Call, path: WinPath, error_id: str, missing_dir_id: str) -> bool:
    state = call.machine.state
    if path.provider != "FileSystem":
        call.error(provider_unsupported(path.text))
        return False
    with state.lock:
        if path.is_root or state.is_dir(path) or call.machine.denied(path, "write"):
            call.error(access_denied(state.display(path), error_id))
            return False
        parent = path.parent
        if parent is None or not (parent.is_root or state.is_dir(parent)):
            call.error(part_of_path_not_found(path.text, missing_dir_id))
            return False
    return True


def _set_content(call: Call) -> None:
    content = _content_bytes(call)
    targets: list[WinPath] = []
    for raw in call.get("LiteralPath") or []:
        targets.append(call.machine.path(raw, call.session.location))
    for raw in call.get("Path") or []:
        if has_wildcards(raw):
            matches = expand_wildcard(call, raw)
            if not matches:
                call.error(path_not_found(unescape(raw)))
            targets.extend(matches)
        else:
            targets.append(call.machine.path(unescape(raw), call.session.location))
    for path in targets:
        if not _writable_target(
            call, path, "GetContentWriterUnauthorizedAccessError", "GetContentWriterDirectoryNotFoundError"
        ):
            continue
        call.machine.state.write(path, content)
        if call.get("PassThru"):
            call.output(content.decode("utf-8", errors="replace"))


# -- Get-FileHash ----------------------------------------------------------------------------------


def _get_file_hash(call: Call) -> None:
    algorithm = call.get("Algorithm") or "SHA256"
    if algorithm in ("MACTripleDES", "RIPEMD160"):
        raise not_simulated(
            f"The remediate simulator does not compute {algorithm} hashes.",
            "AlgorithmNotSimulated",
            terminating=True,
        )
    state = call.machine.state
    paths: list[WinPath] = []
    for raw in [*(call.get("LiteralPath") or []), *(call.get("Path") or [])]:
        path = call.machine.path(raw, call.session.location)
        if not exists(call, path):
            # Get-FileHash resolves its paths with Resolve-Path, whose error this is.
            error = path_not_found(path.text)
            error.error_id = "PathNotFound,Microsoft.PowerShell.Commands.ResolvePathCommand"
            error.qualified = True
            error.activity = "Resolve-Path"
            call.error(error)
            continue
        paths.append(path)
    for path in paths:
        with state.lock:
            if not state.is_file(path):
                continue
            display = state.display(path)
            denied = call.machine.denied(path, "read")
            data = None if denied else state.read(path)
        if data is None:
            call.error(
                PSError(
                    f"Cannot read file '{display}'. Access to the path '{display}' is denied.",
                    "FileReadError,Get-FileHash",
                    category="ReadError",
                    exception="System.UnauthorizedAccessException",
                    target=display,
                    qualified=True,
                )
            )
            continue
        digest = hashlib.new(algorithm.lower(), data).hexdigest().upper()
        call.output(
            custom_object(
                ["Microsoft.Powershell.Utility.FileHash"],
                Algorithm=algorithm.upper(),
                Hash=digest,
                Path=display,
            )
        )


# -- Copy-Item / Move-Item / Remove-Item / New-Item ----------------------------------------------


def _destination(call: Call, source: WinPath) -> WinPath:
    destination = call.machine.path(call.get("Destination") or call.session.location, call.session.location)
    state = call.machine.state
    with state.lock:
        if destination.is_root or state.is_dir(destination):
            return destination.child(source.name)
    return destination


def _copy_item(call: Call) -> None:
    state = call.machine.state
    for source in resolve_items(call):
        target = _destination(call, source)
        with state.lock:
            if state.is_dir(source):
                state.make_dir(target)
                if call.get("Recurse"):
                    prefix = source.key.rstrip("\\") + "\\"
                    for text in state.all_paths():
                        if text.lower().startswith(prefix):
                            child = WinPath("FileSystem", target.text + "\\" + text[len(prefix) :])
                            origin = WinPath("FileSystem", text)
                            if state.is_dir(origin):
                                state.make_dir(child)
                            else:
                                state.copy(origin, child)
                continue
            if source.key == target.key:
                call.error(
                    PSError(
                        f"Cannot overwrite the item {state.display(source)} with itself.",
                        "CopyError",
                        category="WriteError",
                        exception="System.IO.IOException",
                        target=state.display(source),
                    )
                )
                continue
            if call.machine.denied(source, "read"):
                call.error(access_denied(state.display(source), "CopyFileInfoItemUnauthorizedAccessError"))
                continue
            if not _writable_target(
                call,
                target,
                "CopyFileInfoItemUnauthorizedAccessError",
                "System.IO.DirectoryNotFoundException",
            ):
                continue
            state.copy(source, target)
        if call.get("PassThru"):
            call.output(item_object(call, target))


def _move_item(call: Call) -> None:
    state = call.machine.state
    for source in resolve_items(call):
        target = _destination(call, source)
        with state.lock:
            if call.machine.denied(source, "write"):
                call.error(access_denied(state.display(source), "MoveFileInfoItemUnauthorizedAccessError"))
                continue
            if state.is_dir(source):
                call.error(
                    not_simulated(
                        "The remediate simulator does not move directories.",
                        "MoveDirectoryNotSimulated",
                        state.display(source),
                    )
                )
                continue
            if not _writable_target(
                call, target, "MoveFileInfoItemUnauthorizedAccessError", "MoveFileInfoItemIOError"
            ):
                continue
            replacing = state.exists(target) and source.key != target.key
            if replacing and (not call.get("Force") or state.is_dir(target)):
                call.error(_already_exists(state.display(target)))
                continue
            if not replacing:
                state.move(source, target)
        if replacing and not _replace_in_two_steps(call, source, target):
            continue
        if call.get("PassThru"):
            call.output(item_object(call, target))


def _already_exists(display: str) -> PSError:
    # File.Move's IOException, reported by FileSystemProvider.MoveFileInfoItem
    return PSError(
        "Cannot create a file when that file already exists.",
        "MoveFileInfoItemIOError",
        category="WriteError",
        exception="System.IO.IOException",
        target=display,
    )


def _replace_in_two_steps(call: Call, source: WinPath, target: WinPath) -> bool:
    """Move-Item -Force onto an existing file, as FileSystemProvider.MoveFileInfoItem does it:
    File.Move fails because the target exists; the target is deleted; File.Move again. If the
    second move fails, the target stays deleted and the first IOException is reported."""
    state = call.machine.state
    with state.lock:
        display = state.display(target)
        state.remove(target)
    try:
        call.midway()
    except PSError:
        call.error(_already_exists(display))
        return False
    with state.lock:
        state.move(source, target)
    return True


def _remove_item(call: Call) -> None:
    state = call.machine.state
    for path in resolve_items(call):
        if path.provider == "Registry" and not path.is_root:
            from remediate.sim.cmdlets.registry import remove_key

            remove_key(call, path)
            continue
        with state.lock:
            display = state.display(path)
            if path.provider != "FileSystem" or path.is_root:
                call.error(provider_unsupported(display))
                continue
            if call.machine.denied(path, "write"):
                call.error(
                    access_denied(
                        display,
                        "RemoveFileSystemItemUnAuthorizedAccess",
                        prefix=f"Cannot remove item {display}: ",
                    )
                )
                continue
            if state.is_dir(path) and state.children(path) and not call.get("Recurse"):
                call.error(
                    PSError(
                        f"The item at {display} has children and the Recurse parameter was not specified.",
                        "DirectoryNotEmpty",
                        category="WriteError",
                        exception="System.IO.IOException",
                        target=display,
                    )
                )
                continue
            state.remove(path)


def _new_item(call: Call) -> None:
    state = call.machine.state
    paths = [
        call.machine.path(raw, call.session.location) for raw in call.get("Path") or [call.session.location]
    ]
    if paths and all(path.provider == "Registry" for path in paths):
        from remediate.sim.cmdlets.registry import new_key

        for path in paths:
            new_key(call, path.child(call.get("Name")) if call.get("Name") else path)
        return
    item_type = (call.get("ItemType") or "File").lower()
    if item_type not in ("file", "directory"):
        raise not_simulated(
            f"The remediate simulator creates files and directories only, not '{call.get('ItemType')}'.",
            "ItemTypeNotSimulated",
            terminating=True,
        )
    value = call.get("Value")
    for raw in call.get("Path") or [call.session.location]:
        path = call.machine.path(raw, call.session.location)
        if call.get("Name"):
            path = path.child(call.get("Name"))
        with state.lock:
            display = state.display(path)
            if item_type == "directory":
                if state.exists(path) and not call.get("Force"):
                    call.error(
                        PSError(
                            f"An item with the specified name {display} already exists.",
                            "DirectoryExist",
                            category="ResourceExists",
                            exception="System.IO.IOException",
                            target=display,
                        )
                    )
                    continue
                if call.machine.denied(path, "write"):
                    call.error(access_denied(display, "CreateDirectoryUnauthorizedAccessError"))
                    continue
                state.make_dir(path)
            else:
                if state.exists(path) and not call.get("Force"):
                    call.error(
                        PSError(
                            f"The file '{display}' already exists.",
                            "NewItemIOError",
                            category="ResourceExists",
                            exception="System.IO.IOException",
                            target=display,
                        )
                    )
                    continue
                if not _writable_target(call, path, "NewItemUnauthorizedAccessError", "NewItemIOError"):
                    continue
                data = (
                    b""
                    if value is None
                    else (value if isinstance(value, bytes) else str(value).encode("utf-8"))
                )
                state.write(path, data)
        call.output(item_object(call, path))


def _get_child_item(call: Call) -> None:
    """GetChildItemCommand over the FileSystem provider: a folder's items in name order (a
    file names itself); a missing path is a non-terminating PathNotFound. -Filter matches
    names; -Directory and -File (dynamic parameters) keep one kind; -Name writes names."""
    state = call.machine.state
    pattern = wildcard_regex(call.get("Filter")) if call.get("Filter") else None
    for path in resolve_items(call):
        if path.provider != "FileSystem":
            raise not_simulated(
                "The remediate simulator lists file system folders only.",
                "ListNotSimulated",
                terminating=True,
            )
        with state.lock:
            names = state.children(path) if path.is_root or state.is_dir(path) else [state.display(path)]
            items = [WinPath("FileSystem", name) for name in sorted(names, key=str.upper)]
            kinds = {item.key: state.is_dir(item) for item in items}
        for item in items:
            if pattern is not None and not pattern.match(item.name):
                continue
            if (call.get("Directory") and not kinds[item.key]) or (call.get("File") and kinds[item.key]):
                continue
            call.output(_name_object(item, kinds[item.key]) if call.get("Name") else item_object(call, item))


def _name_object(path: WinPath, is_dir: bool) -> Any:
    """-Name: CmdletProvider.WriteItemObject(name, path, isContainer) wraps the name in a
    PSObject with the provider's notes, so the string travels as `<Obj><S>..</S><MS>..</MS>`."""
    name = PSString(path.name)
    parent = path.parent
    notes = {
        "PSPath": PROVIDER_PATH_PREFIX["FileSystem"] + path.text,
        "PSParentPath": PROVIDER_PATH_PREFIX["FileSystem"] + (parent.text if parent else ""),
        "PSChildName": path.name,
        "PSDrive": path.text[0],
        "PSProvider": "Microsoft.PowerShell.Core\\FileSystem",
        "PSIsContainer": is_dir,
    }
    for key, note in notes.items():
        name.PSObject.extended_properties.append(PSNoteProperty(key, note))
    return name


CMDLETS = (
    Cmdlet(
        "Get-ChildItem",
        "Microsoft.PowerShell.Commands.GetChildItemCommand",
        (
            *PATH_PARAMS,
            FORCE,
            Param("Recurse", "switch", aliases=("s",)),
            Param("Depth", "int"),
            Param("Name", "switch"),
            Param("Directory", "switch", aliases=("ad", "d")),
            Param("File", "switch", aliases=("af",)),
            Param("Attributes", "string"),
        ),
        _get_child_item,
        exclusive=PATH_SETS,
    ),
    Cmdlet(
        "Test-Path",
        "Microsoft.PowerShell.Commands.TestPathCommand",
        (
            *PATH_PARAMS,
            Param(
                "PathType",
                "enum",
                aliases=("Type",),
                choices=("Any", "Container", "Leaf"),
                type_name="Microsoft.PowerShell.Commands.TestPathType",
            ),
            Param("IsValid", "switch"),
            Param("OlderThan", "object"),
            Param("NewerThan", "object"),
        ),
        _test_path,
        exclusive=PATH_SETS,
        one_of=PATH_SETS,
    ),
    Cmdlet(
        "Get-Item",
        "Microsoft.PowerShell.Commands.GetItemCommand",
        (*PATH_PARAMS, FORCE, Param("Stream", "strings")),
        _get_item,
        exclusive=PATH_SETS,
        one_of=PATH_SETS,
    ),
    Cmdlet(
        "Get-ItemProperty",
        "Microsoft.PowerShell.Commands.GetItemPropertyCommand",
        (*PATH_PARAMS, Param("Name", "strings", aliases=("PSProperty",), position=1)),
        _get_item_property,
        exclusive=PATH_SETS,
        one_of=PATH_SETS,
    ),
    Cmdlet(
        "Get-Content",
        GET_CONTENT,
        (
            *PATH_PARAMS,
            FORCE,
            ENCODING,
            Param("ReadCount", "int"),
            Param("TotalCount", "int", aliases=("First", "Head")),
            Param("Tail", "int", aliases=("Last",)),
            Param("Raw", "switch"),
            Param("Delimiter", "string"),
            Param("Wait", "switch"),
            Param("Stream", "string"),
        ),
        _get_content,
        exclusive=PATH_SETS,
        one_of=PATH_SETS,
    ),
    Cmdlet(
        "Set-Content",
        SET_CONTENT,
        (
            *PATH_PARAMS,
            Param("Value", "objects", position=1, mandatory=True),
            FORCE,
            ENCODING,
            Param("NoNewline", "switch"),
            Param("PassThru", "switch"),
            Param("Stream", "string"),
        ),
        _set_content,
        should_process=True,
        exclusive=PATH_SETS,
        one_of=PATH_SETS,
    ),
    Cmdlet(
        "Get-FileHash",
        "Get-FileHash",  # a script function in 5.1: its errors end with the function name
        (
            PATH,
            LITERAL_PATH,
            Param("InputStream", "object"),
            Param("Algorithm", "enum", choices=HASH_ALGORITHMS, type_name="System.String"),
        ),
        _get_file_hash,
        exclusive=(("Path", "LiteralPath", "InputStream"),),
        one_of=(("Path", "LiteralPath", "InputStream"),),
    ),
    Cmdlet(
        "Copy-Item",
        "Microsoft.PowerShell.Commands.CopyItemCommand",
        (
            *PATH_PARAMS,
            Param("Destination", "string", position=1),
            FORCE,
            Param("Recurse", "switch"),
            Param("Container", "switch"),
            Param("PassThru", "switch"),
            Param("FromSession", "object"),
            Param("ToSession", "object"),
        ),
        _copy_item,
        should_process=True,
        exclusive=PATH_SETS,
        one_of=PATH_SETS,
    ),
    Cmdlet(
        "Move-Item",
        "Microsoft.PowerShell.Commands.MoveItemCommand",
        (*PATH_PARAMS, Param("Destination", "string", position=1), FORCE, Param("PassThru", "switch")),
        _move_item,
        should_process=True,
        exclusive=PATH_SETS,
        one_of=PATH_SETS,
    ),
    Cmdlet(
        "Remove-Item",
        "Microsoft.PowerShell.Commands.RemoveItemCommand",
        (*PATH_PARAMS, FORCE, Param("Recurse", "switch"), Param("Stream", "strings")),
        _remove_item,
        should_process=True,
        exclusive=PATH_SETS,
        one_of=PATH_SETS,
    ),
    Cmdlet(
        "New-Item",
        "Microsoft.PowerShell.Commands.NewItemCommand",
        (
            PATH,
            Param("Name", "string"),
            Param("ItemType", "string", aliases=("Type",)),
            Param("Value", "object"),
            FORCE,
            CREDENTIAL,
        ),
        _new_item,
        should_process=True,
    ),
)
