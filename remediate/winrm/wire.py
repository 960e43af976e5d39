"""What pypsrp hands back, as plain values: the one place that knows its shapes.

Windows PowerShell 5.1 serializes cmdlet output in CLIXML, and pypsrp 0.9 turns that into
Python values in several shapes for the same logical thing (see docs/fidelity.md):

- `Get-Content -Encoding Byte -ReadCount 0` is one `object[]` of boxed bytes with the
  provider's NoteProperties: a Python list of ints as the single output item. With another
  -ReadCount it is several such lists, or single ints; a `byte[]` arrives as `bytes`.
- `Get-Content -Raw` is a string with NoteProperties: `<Obj><S>text</S><MS>...</MS></Obj>`,
  which pypsrp returns as a GenericComplexObject whose `str()` is "None" and whose text
  sits in `property_sets`. Any primitive with notes (a byte, a number) arrives the same way.
- Exchange's MultiValuedProperty<T> may stay unparsed: `property_sets` holds raw `<LST>` XML.
- `System.String[]` is a Python list; enums and identities are objects with a ToString.

Every other module asks this one; none looks at pypsrp's classes itself.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from remediate.support.errors import RemediateError

_PSRP_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def psrp_string(text: str | None) -> str:
    """Undo PSRP's _xHHHH_ escaping of control characters in serialized strings."""
    return _PSRP_ESCAPE.sub(lambda match: chr(int(match.group(1), 16)), text or "")


def _complex(value: Any) -> bool:
    from pypsrp.complex_objects import ComplexObject

    return isinstance(value, ComplexObject)


_INTEGERS = frozenset({"By", "SB", "I16", "U16", "I32", "U32", "I64", "U64"})


def _raw_item(node: ET.Element) -> Any:
    if node.tag in _INTEGERS:
        return int(node.text or "0")
    if node.tag == "B":
        return (node.text or "").strip().lower() == "true"
    if node.tag == "Nil":
        return None
    return psrp_string(node.text)


def _raw_list(value: Any) -> list[Any] | None:
    """The items of a list pypsrp left as `<LST>` XML (Exchange's MultiValuedProperty, or an
    object[] inside an object[]), if that is what it is."""
    for item in getattr(value, "property_sets", ()):
        if isinstance(item, str) and item.lstrip().startswith("<LST"):
            return [_raw_item(node) for node in ET.fromstring(item)]
    return None


def primitive(value: Any) -> Any:
    """The value itself of a primitive that came wrapped because it carried NoteProperties
    (`<Obj><S>..</S><MS>..</MS></Obj>`: no type names, no ToString); anything else, an enum
    (type names, a ToString and its number) among them, is returned as it is."""
    if (
        _complex(value)
        and not value.types
        and value.to_string is None
        and not value.adapted_properties
        and len(value.property_sets) == 1
    ):
        inner = value.property_sets[0]
        if not (isinstance(inner, str) and inner.lstrip().startswith("<LST")):
            return inner
    return value


def plain(value: Any) -> Any:
    """A property value as plain data: None, bool, int, float, str, bytes, a list of strings,
    or a dict of an object's properties."""
    value = primitive(value)
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return value
    if isinstance(value, list):
        return [str(plain(item)) for item in value]
    if _complex(value):
        items = _raw_list(value)
        if items is not None:  # Exchange's MultiValuedProperty<T>, which pypsrp 0.9 leaves as XML
            return [str(item) for item in items]
        if value.to_string is not None:
            return str(value.to_string)
        return {
            key: plain(item)
            for key, item in {**value.adapted_properties, **value.extended_properties}.items()
        }
    return str(value)


def properties(obj: Any) -> dict[str, Any]:
    """An object's properties (adapted and notes, notes winning) as plain values."""
    if not _complex(obj):
        raise RemediateError(
            "unexpected-output", f"expected an object, got {type(obj).__name__}", "please report this"
        )
    merged = {**obj.adapted_properties, **obj.extended_properties}
    return {name: plain(value) for name, value in merged.items()}


def text(output: list[Any]) -> str | None:
    """One string from a cmdlet's output (`Get-Content -Raw`): None when there is none."""
    if not output:
        return None
    value = primitive(output[0])
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if _complex(value):
        return str(value.to_string) if value.to_string is not None else None
    return str(value)  # pypsrp has already undone the _xHHHH_ escapes of a string


def _byte(item: Any) -> int:
    item = primitive(item)
    if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= 255:
        raise RemediateError(
            "unexpected-output",
            f"expected file content as bytes, got an item of type {type(item).__name__}",
            "please report this, with the server's PowerShell version",
        )
    return item


def content_bytes(output: list[Any]) -> bytes:
    """A file's bytes from `Get-Content -Encoding Byte` output, in whatever blocks it came:
    `bytes` (a byte[]), a list of ints (an object[] of boxed bytes), several of those
    (-ReadCount N), single ints (-ReadCount 1), a list holding a list, each possibly wrapped
    with NoteProperties. A block that is an empty list is refused: Get-Content writes no empty
    block, and pypsrp 0.9 turns a byte[] carrying notes into one, dropping its bytes."""
    data = bytearray()
    for block in output:
        if isinstance(primitive(block), list) and not primitive(block):
            raise RemediateError(
                "unexpected-output",
                "the server sent file content in a shape remediate cannot read (an empty list)",
                "please report this, with the server's PowerShell version",
            )
        _add_bytes(block, data)
    return bytes(data)


def _add_bytes(value: Any, data: bytearray) -> None:
    value = primitive(value)
    if isinstance(value, (bytes, bytearray)):
        data += value
    elif isinstance(value, list):
        if all(type(item) is int for item in value):  # an object[] of boxed bytes, as pypsrp gives it
            try:
                data += bytes(value)
                return
            except ValueError:  # a number beyond a byte: refused below, naming it
                pass
        for item in value:
            _add_bytes(item, data)
    elif _complex(value) and _raw_list(value) is not None:
        for item in _raw_list(value) or []:
            _add_bytes(item, data)
    else:
        data.append(_byte(value))


def hashes_of(output: list[Any]) -> dict[str, str]:
    """Get-FileHash's objects in `output` (other objects are skipped): lower-cased path -> hash."""
    found = {}
    for item in output:
        values = properties(item)
        if values.get("Path") and values.get("Hash"):
            found[str(values["Path"]).lower()] = str(values["Hash"]).lower()
    return found
