"""pypsrp's deserializer with one shortcut: a byte.

pypsrp deserializes every element of a message the same general way: it writes the element
back out as text and looks for type names before it looks at the tag, about 15 us an element.
A file read with `Get-Content -Encoding Byte` (web.config, a run's record) comes as one `<By>`
element per byte, so a 12 KB record cost a fifth of a second of CPU, and `plan` reads one
record per server to say which run last changed each target. A `<By>` carries no type names,
no reference id and no properties: its value is `int(text)`, which is exactly what pypsrp's
general path returns for it (its table of primitive tags). Everything else goes the general way.
"""

from __future__ import annotations

from typing import Any

from pypsrp.serializer import Serializer


class ByteShortcutSerializer(Serializer):  # type: ignore[misc]
    def deserialize(self, element: Any, metadata: Any = None, clear: bool = True) -> Any:
        if not isinstance(element, str) and element.tag == "By":
            if clear:
                self._clear()
            return int(element.text)
        return super().deserialize(element, metadata, clear)


def install(pool: Any) -> bool:
    """Give a RunspacePool (not yet opened) this serializer; False if pypsrp keeps its serializer
    elsewhere than 0.9 does (then it keeps its own: slower, the same values)."""
    fragmenter: Any = getattr(pool, "_fragmenter", None)
    current = getattr(pool, "_serializer", None)
    if type(current) is not Serializer or getattr(fragmenter, "serializer", None) is not current:
        return False
    serializer = ByteShortcutSerializer()
    pool._serializer = fragmenter.serializer = serializer
    return True
