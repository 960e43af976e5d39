"""The registry provider's writes: New-Item (a key), New-ItemProperty, Set-ItemProperty,
Remove-ItemProperty, Remove-Item (a key). Get-ItemProperty and Get-Item are in filesystem.py.

Sources: PS source `namespaces/RegistryProvider.cs` (NewItem, NewProperty, SetProperty,
RemoveProperty, RemoveItem) and `resources/RegistryProviderStrings.resx` (the messages).
Notably: New-Item on a key that exists fails without -Force ("A key in this path already
exists.", an IOException, ResourceExists) and with -Force **deletes the key and creates it
empty**: remediate never passes -Force to it. Without -Force the parent must exist.
"""

from __future__ import annotations

from typing import Any

from remediate.sim.cmdlets.common import FORCE, LITERAL_PATH, PATH, path_not_found, resolve_items
from remediate.sim.engine import Call, Cmdlet, Param
from remediate.sim.records import PSError, custom_object, dotnet_object
from remediate.sim.winpath import WinPath

KINDS = ("String", "ExpandString", "Binary", "DWord", "MultiString", "QWord", "Unknown")


def _exists_error(message: str, target: Any) -> PSError:
    return PSError(
        message,
        "System.IO.IOException",
        category="ResourceExists",
        exception="System.IO.IOException",
        target=target,
    )


def _value_object(path: WinPath, name: str, value: Any) -> Any:
    parent = path.parent
    return custom_object(
        **{name: value},
        PSPath=path.ps_path,
        PSParentPath=parent.ps_path if parent else "",
        PSChildName=path.name,
        PSDrive=dotnet_object(["System.Management.Automation.PSDriveInfo"], to_string="HKLM"),
        PSProvider=dotnet_object(
            ["System.Management.Automation.ProviderInfo"], to_string="Microsoft.PowerShell.Core\\Registry"
        ),
    )


def _converted(kind: str, value: Any) -> Any:
    if kind in ("DWord", "QWord"):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise PSError(
                f'Cannot convert value "{value}" to type "System.Int32".',
                "System.Management.Automation.PSInvalidCastException",
                category="InvalidArgument",
                exception="System.Management.Automation.PSInvalidCastException",
                terminating=True,
            ) from None
    return str(value)


def new_key(call: Call, path: WinPath) -> None:
    """New-Item on the registry: one key (RegistryProvider.NewItem)."""
    from remediate.sim.cmdlets.filesystem import registry_key_object

    state = call.machine.state
    with state.lock:
        existing = state.registry_key(path.key)
        if existing is not None and not call.get("Force"):
            call.error(_exists_error("A key in this path already exists.", path.text))
            return
        if existing is not None:
            state.remove_registry_key(path)  # -Force: the key goes, values and subkeys with it
        parent = path.parent
        missing: list[WinPath] = []
        while parent is not None and not parent.is_root and state.registry_key(parent.key) is None:
            missing.append(parent)
            parent = parent.parent
        if missing and not call.get("Force"):
            call.error(
                PSError(
                    "The registry key at the specified path does not exist.",
                    "System.ArgumentException",
                    category="InvalidArgument",
                    exception="System.ArgumentException",
                    target=path.parent.text if path.parent else path.text,
                )
            )
            return
        for level in reversed(missing):
            state.make_registry_key(level)
        state.make_registry_key(path)
        key = state.registry_key(path.key)
    call.output(registry_key_object(path, key or {"values": {}}))


def remove_key(call: Call, path: WinPath) -> None:
    state = call.machine.state
    with state.lock:
        if state.registry_subkeys(path.key) and not call.get("Recurse"):
            call.error(
                PSError(
                    f"The item at {path.ps_path} has children and the Recurse parameter was not specified.",
                    "RemoveItemUnableToAccessItem",
                    category="WriteError",
                    exception="System.Management.Automation.PSInvalidOperationException",
                    target=path.text,
                )
            )
            return
        state.remove_registry_key(path)


def _keys(call: Call) -> list[WinPath]:
    found = []
    for path in resolve_items(call):
        if path.provider != "Registry" or call.machine.state.registry_key(path.key) is None:
            call.error(path_not_found(path.text))
            continue
        found.append(path)
    return found


def _new_item_property(call: Call) -> None:
    state = call.machine.state
    name, kind = call.get("Name"), call.get("PropertyType") or "String"
    value = _converted(kind, call.get("Value"))
    for path in _keys(call):
        with state.lock:
            values = (state.registry_key(path.key) or {}).get("values", {})
            if any(n.lower() == name.lower() for n in values) and not call.get("Force"):
                call.error(_exists_error("The property already exists.", path.text))
                continue
            state.set_registry_value(path, name, kind, value)
        call.output(_value_object(path, name, value))


def _set_item_property(call: Call) -> None:
    """SetProperty: an existing value keeps its kind (the new value converted to it); a new
    one is a String, or a DWord for an integer (RegistryValueKind from the .NET type)."""
    state = call.machine.state
    name, value = call.get("Name"), call.get("Value")
    for path in _keys(call):
        with state.lock:
            values = (state.registry_key(path.key) or {}).get("values", {})
            existing = next((v for n, v in values.items() if n.lower() == name.lower()), None)
            kind = existing["kind"] if existing else ("DWord" if isinstance(value, int) else "String")
            state.set_registry_value(path, name, kind, _converted(kind, value))
        if call.get("PassThru"):
            call.output(_value_object(path, name, value))


def _remove_item_property(call: Call) -> None:
    state = call.machine.state
    for path in _keys(call):
        for name in call.get("Name") or []:
            with state.lock:
                removed = state.remove_registry_value(path, name)
            if not removed:
                native = path.ps_path.split("::", 1)[1]
                call.error(
                    PSError(
                        f"Property {name} does not exist at path {native}.",
                        "System.Management.Automation.PSArgumentException",
                        category="InvalidArgument",
                        exception="System.Management.Automation.PSArgumentException",
                        target=name,
                    )
                )


_TARGET = (PATH, LITERAL_PATH, FORCE, Param("Credential", "object"))
CMDLETS = (
    Cmdlet(
        "New-ItemProperty",
        "Microsoft.PowerShell.Commands.NewItemPropertyCommand",
        (
            *_TARGET,
            Param("Name", "string", aliases=("PSProperty",), mandatory=True),
            Param("PropertyType", "enum", aliases=("Type",), choices=KINDS, type_name="System.String"),
            Param("Value", "object"),
        ),
        _new_item_property,
        should_process=True,
        exclusive=(("Path", "LiteralPath"),),
        one_of=(("Path", "LiteralPath"),),
    ),
    Cmdlet(
        "Set-ItemProperty",
        "Microsoft.PowerShell.Commands.SetItemPropertyCommand",
        (
            *_TARGET,
            Param("Name", "string", aliases=("PSProperty",)),
            Param("Value", "object"),
            Param("PassThru", "switch"),
            Param("Type", "enum", choices=KINDS, type_name="Microsoft.Win32.RegistryValueKind"),
        ),
        _set_item_property,
        should_process=True,
        exclusive=(("Path", "LiteralPath"),),
        one_of=(("Path", "LiteralPath"),),
    ),
    Cmdlet(
        "Remove-ItemProperty",
        "Microsoft.PowerShell.Commands.RemoveItemPropertyCommand",
        (*_TARGET, Param("Name", "strings", aliases=("PSProperty",), mandatory=True)),
        _remove_item_property,
        should_process=True,
        exclusive=(("Path", "LiteralPath"),),
        one_of=(("Path", "LiteralPath"),),
    ),
)
