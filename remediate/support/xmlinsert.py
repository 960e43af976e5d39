"""Adding a missing element (with one attribute) to an XML file, byte for byte like xmledit's
splices: the new element goes in as the first child of its parent, on its own line with the
indentation of the parent's children (or one level deeper than the parent, four spaces, as IIS
writes its configuration); an empty parent (`<x ... />`) is opened and closed around it.
Nothing else in the file changes, and the result is parsed again to check that the XPath now
selects exactly the value written.
"""

from __future__ import annotations

import re

from remediate.support.xmledit import Edit, _checked, _error, _tag_name, escape, parse, start_tag_of

_STEP = re.compile(r"^(?P<parent>.+)/(?P<element>[A-Za-z_][\w.-]*)/@(?P<attribute>[A-Za-z_][\w.-]*)$")


def split(xpath: str) -> tuple[str, str, str] | None:
    """`.../parent/element/@attribute` as (parent XPath, element, attribute); None if the XPath
    does not end that way (then a missing element cannot be added)."""
    found = _STEP.match(xpath)
    return (found["parent"], found["element"], found["attribute"]) if found else None


def add_element(data: bytes, xpath: str, value: str, name: str) -> Edit:
    """`data` with the element `xpath` names created (its attribute holding `value`) under the
    one element its parent XPath selects."""
    parts = split(xpath)
    if parts is None:
        raise _error(
            "xpath-cannot-create",
            f"XPath {xpath!r} does not end in /element/@attribute: remediate cannot add it",
            "create the element by hand, or select one that exists",
        )
    parent_xpath, element, attribute = parts
    tree = parse(data, name)
    parents = tree.xpath(parent_xpath)
    if (
        not isinstance(parents, list)
        or len(parents) != 1
        or not isinstance(getattr(parents[0], "tag", None), str)
    ):
        count = len(parents) if isinstance(parents, list) else 0
        raise _error(
            "xpath-no-parent",
            f"{name}: {parent_xpath!r} selects {count} elements, not one: there is no one place to add {element}",
            "check the file: the virtual directory or section may be missing on this server",
        )
    start, end = start_tag_of(data, tree, parents[0], name)
    newline = b"\r\n" if b"\r\n" in data[: end + 4096] else b"\n"
    line_start = data.rfind(b"\n", 0, start) + 1
    indent = data[line_start:start] if not data[line_start:start].strip() else b""
    quoted = escape(value, '"')
    child = f'<{element} {attribute}="{quoted}" />'.encode()
    if data[end - 2 : end] == b"/>":  # an empty element: open it, add the child, close it
        opened = data[start : end - 2].rstrip() + b">"
        closing = b"</" + _tag_name(data, start).encode() + b">"
        new = opened + newline + indent + b"    " + child + newline + indent + closing
        content = data[:start] + new + data[end:]
    else:  # as the first child, indented as the children are
        following = data[end : data.find(b"<", end)]
        child_indent = following.rsplit(b"\n", 1)[1] if b"\n" in following else indent + b"    "
        content = data[:end] + newline + child_indent + child + data[end:]
    return _checked(xpath, name, Edit("", value, content))
