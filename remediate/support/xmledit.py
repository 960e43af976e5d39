"""Edit one attribute value of an XML file and nothing else.

lxml evaluates the XPath and checks the document; the edit itself is a splice of the
original bytes: everything outside the targeted attribute value (BOM, declaration,
comments, line endings, entities, attribute order, quoting, whitespace) is kept byte for
byte. A small scanner finds the attribute's raw bytes: the n-th start tag in document order
is the n-th element lxml sees (`start_tag_of`), and inside it the attribute is found by name,
then checked against lxml's value before anything is computed.

Parsing is hardened: no DTD (a web.config never has one, and refusing it rules out entity
expansion), no network, a size limit, UTF-8 only (the bytes spliced in must match the file).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from remediate.support.errors import RemediateError

# Exchange's web.config files are 5-60 KB. Windows PowerShell 5.1 sends a file's bytes as an
# object[] of boxed bytes, about 13 bytes of CLIXML and 18 us of pypsrp's time per byte, so a
# read is bounded at 1 MiB (about 13 MB on the wire): more is refused, not read.
MAX_XML_BYTES = 1024 * 1024
BOM = b"\xef\xbb\xbf"
_DECLARED_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_ATTRIBUTE = re.compile(rb"""(\s+)([^\s=/>"']+)(\s*=\s*)(?:"([^"]*)"|'([^']*)')""")
_TAG_NAME = re.compile(rb"<([^\s/>]+)")
_REFERENCE = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|lt|gt|amp|apos|quot);")
_PREDEFINED = {"lt": "<", "gt": ">", "amp": "&", "apos": "'", "quot": '"'}


def _error(reference: str, message: str, hint: str) -> RemediateError:
    return RemediateError(reference, message, hint)


# -- parsing -------------------------------------------------------------------------------------


def check_encoding(data: bytes, name: str) -> None:
    if len(data) > MAX_XML_BYTES:
        raise _error(
            "xml-too-large",
            f"{name} is {len(data)} bytes; remediate edits XML files up to {MAX_XML_BYTES} bytes",
            "this is not a usual web.config: check the path",
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00")):
        raise _error(
            "xml-encoding-unsupported",
            f"{name} is UTF-16 or UTF-32 encoded; remediate edits UTF-8 files only",
            "Exchange writes web.config as UTF-8: a file in another encoding was edited by hand",
        )
    body = data[3:] if data.startswith(BOM) else data
    declared = _DECLARED_ENCODING.match(body)
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        raise _error(
            "xml-encoding-unsupported",
            f"{name} declares encoding {declared.group(1).decode()!r}; remediate edits UTF-8 files only",
            "Exchange writes web.config as UTF-8: a file in another encoding was edited by hand",
        )
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _error(
            "xml-encoding-unsupported",
            f"{name} is not valid UTF-8 (byte {error.start})",
            "the file is damaged or in another encoding; restore it from a backup",
        ) from None


def parse(data: bytes, name: str) -> Any:
    """A hardened lxml parse of `data`; errors name the file, line and column."""
    from lxml import etree

    check_encoding(data, name)
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
        remove_comments=False,
        remove_pis=False,
        strip_cdata=False,
        collect_ids=False,
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        if b"<!DOCTYPE" in data:  # say why first: an entity it declares is what broke the parse
            raise _dtd_refused(name) from None
        line, column = error.position if error.position else (0, 0)
        raise _error(
            "xml-not-well-formed",
            f"{name} is not well-formed XML (line {line}, column {column}): {error.msg}",
            "the file is damaged; fix it or restore it from a backup before remediating",
        ) from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise _dtd_refused(name)
    return tree


def _dtd_refused(name: str) -> RemediateError:
    return _error(
        "xml-dtd-refused",
        f"{name} has a DOCTYPE; remediate refuses XML with a DTD (entities could expand or reach out)",
        "a web.config has no DOCTYPE: check the file",
    )


# -- locating an attribute's raw bytes --------------------------------------------------------------


def _start_tags(data: bytes) -> list[tuple[int, int]]:
    """Byte ranges of every start (or empty-element) tag, in document order."""
    tags: list[tuple[int, int]] = []
    index = 0
    length = len(data)
    while (index := data.find(b"<", index)) != -1:
        if data.startswith(b"<!--", index):
            index = data.index(b"-->", index + 4) + 3
        elif data.startswith(b"<![CDATA[", index):
            index = data.index(b"]]>", index) + 3
        elif data.startswith(b"<?", index):
            index = data.index(b"?>", index) + 2
        elif data.startswith((b"</", b"<!"), index):
            index = data.index(b">", index) + 1
        else:
            cursor, quote = index + 1, 0
            while cursor < length:
                byte = data[cursor]
                if quote:
                    if byte == quote:
                        quote = 0
                elif byte in (0x22, 0x27):
                    quote = byte
                elif byte == 0x3E:
                    break
                cursor += 1
            tags.append((index, cursor + 1))
            index = cursor + 1
    return tags


def start_tag_of(data: bytes, tree: Any, element: Any, name: str) -> tuple[int, int]:
    """The byte range of `element`'s start tag in `data` (parsed as `tree`)."""
    elements, tags = [e for e in tree.iter() if isinstance(e.tag, str)], _start_tags(data)
    if len(tags) != len(elements):
        raise _error(
            "xml-unsupported",
            f"{name}: could not match the file's tags to its elements",
            "please report this file's shape; remediate will not edit what it cannot map exactly",
        )
    return tags[next(i for i, e in enumerate(elements) if e is element)]


def _tag_name(data: bytes, tag_start: int) -> str:
    match = _TAG_NAME.match(data, tag_start)
    return match.group(1).decode("utf-8") if match else "?"


@dataclass(frozen=True)
class Unit:
    """One character of an attribute's value and the raw text it came from."""

    raw_start: int
    raw_end: int
    char: str


def decode_attribute(raw: str) -> list[Unit]:
    """XML attribute-value normalization, character by character, keeping raw offsets."""
    units: list[Unit] = []
    index = 0
    while index < len(raw):
        char = raw[index]
        if char == "&":
            match = _REFERENCE.match(raw, index)
            if match is None:
                raise ValueError(f"unexpected '&' at {index}")
            name = match.group(1)
            if name.startswith("#x"):
                value = chr(int(name[2:], 16))
            elif name.startswith("#"):
                value = chr(int(name[1:]))
            else:
                value = _PREDEFINED[name]
            units.append(Unit(index, match.end(), value))
            index = match.end()
        elif char == "\r":
            end = index + 2 if raw.startswith("\r\n", index) else index + 1
            units.append(Unit(index, end, " "))
            index = end
        elif char in "\n\t":
            units.append(Unit(index, index + 1, " "))
            index += 1
        else:
            units.append(Unit(index, index + 1, char))
            index += 1
    return units


@dataclass(frozen=True)
class AttributeValue:
    """Where an attribute's value sits in the file, raw and decoded."""

    start: int  # byte offset of the first byte inside the quotes
    end: int  # byte offset of the closing quote
    quote: str
    raw: str
    units: tuple[Unit, ...]
    element: str  # the element's tag as written, for messages

    @property
    def value(self) -> str:
        return "".join(unit.char for unit in self.units)


def locate(data: bytes, xpath: str, name: str) -> AttributeValue:
    """The one attribute `xpath` selects in `data` (a file called `name`)."""
    from lxml import etree

    tree = parse(data, name)
    try:
        found = tree.xpath(xpath)
    except (etree.XPathEvalError, etree.XPathSyntaxError) as error:
        raise _error(
            "xpath-invalid", f"XPath {xpath!r} is not valid: {error}", "fix the XPath in the playbook"
        ) from None
    if not isinstance(found, list) or not all(
        isinstance(item, etree._ElementUnicodeResult) for item in found
    ):
        raise _error(
            "xpath-not-attribute",
            f"XPath {xpath!r} does not select an attribute in {name}",
            "end the XPath with /@attribute, e.g. .../add[@key='OAuthHttpModule.Profiles']/@value",
        )
    if not found:
        raise _error(
            "xpath-no-match",
            f"XPath {xpath!r} matches nothing in {name}",
            "the file does not have the expected setting: check the XPath, or whether this is the right file",
        )
    if len(found) > 1:
        raise _error(
            "xpath-ambiguous",
            f"XPath {xpath!r} matches {len(found)} attributes in {name}; remediate changes exactly one",
            "make the XPath more specific",
        )
    result = found[0]
    element, attribute = result.getparent(), result.attrname
    if attribute.startswith("{"):
        raise _error(
            "xpath-not-supported",
            f"XPath {xpath!r} selects a namespaced attribute ({attribute}); remediate edits plain attributes",
            "select an attribute without a namespace prefix",
        )
    tag_start, tag_end = start_tag_of(data, tree, element, name)
    for match in _ATTRIBUTE.finditer(data, tag_start, tag_end):
        if match.group(2).decode("utf-8") != attribute:
            continue
        group = 4 if match.group(4) is not None else 5
        start, end = match.start(group), match.end(group)
        raw = data[start:end].decode("utf-8")
        value = AttributeValue(
            start,
            end,
            '"' if group == 4 else "'",
            raw,
            tuple(decode_attribute(raw)),
            _tag_name(data, tag_start),
        )
        if value.value != str(result):
            break
        return value
    raise _error(
        "xml-unsupported",
        f"{name}: could not find the raw bytes of attribute {attribute!r}",
        "please report this file's shape; remediate will not edit what it cannot map exactly",
    )


# -- edits ---------------------------------------------------------------------------------------


def escape(text: str, quote: str) -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    escaped = escaped.replace("\t", "&#9;").replace("\n", "&#10;").replace("\r", "&#13;")
    return escaped.replace('"', "&quot;") if quote == '"' else escaped.replace("'", "&apos;")


def splice(data: bytes, target: AttributeValue, raw: str) -> bytes:
    return data[: target.start] + raw.encode("utf-8") + data[target.end :]


@dataclass(frozen=True)
class Edit:
    """The outcome of an edit: the new bytes (equal to the old when nothing changes)."""

    before: str
    after: str
    content: bytes

    @property
    def changed(self) -> bool:
        return self.before != self.after


def set_attribute(data: bytes, xpath: str, value: str, name: str) -> Edit:
    target = locate(data, xpath, name)
    if target.value == value:
        return Edit(target.value, value, data)
    return _checked(xpath, name, Edit(target.value, value, splice(data, target, escape(value, target.quote))))


def tokens(value: str, separator: str) -> list[str]:
    return value.split(separator) if value else []


def set_token(data: bytes, xpath: str, separator: str, token: str, present: bool, name: str) -> Edit:
    """Add `token` to (or remove every copy from) a `separator`-delimited attribute value."""
    target = locate(data, xpath, name)
    before = target.value
    have = tokens(before, separator)
    if present == (token in have):
        return Edit(before, before, data)
    if present:
        # Always "sep + token" after a non-empty value, even one ending in a separator:
        # removing the token then gives back the exact original bytes.
        addition = separator + token if before else token
        raw = target.raw + escape(addition, target.quote)
    else:
        raw = _without(target, separator, token)
    after = "".join(unit.char for unit in decode_attribute(raw))
    return _checked(xpath, name, Edit(before, after, splice(data, target, raw)))


def _without(target: AttributeValue, separator: str, token: str) -> str:
    """The raw value without any whole `token`, each removed with one adjacent separator."""
    units = target.units
    value = target.value
    parts = value.split(separator)
    keep: list[tuple[int, int]] = []  # decoded [start, end) spans of the parts kept
    offset = 0
    for part in parts:
        if part != token:
            keep.append((offset, offset + len(part)))
        offset += len(part) + len(separator)
    if not keep:
        return ""

    def raw_span(start: int, end: int) -> str:
        if start == end:
            return ""
        return target.raw[units[start].raw_start : units[end - 1].raw_end]

    # Keep each kept part's raw text, joined by the raw text of the separator that followed it.
    pieces: list[str] = []
    for index, (start, end) in enumerate(keep):
        pieces.append(raw_span(start, end))
        if index < len(keep) - 1:
            pieces.append(raw_span(end, end + len(separator)))
    return "".join(pieces)


def _checked(xpath: str, name: str, edit: Edit) -> Edit:
    """Re-parse the result: the same attribute must now hold exactly the expected value."""
    actual = locate(edit.content, xpath, name).value
    if actual != edit.after:
        raise _error(
            "xml-edit-mismatch",
            f"{name}: the edited file would hold {actual!r}, not the expected {edit.after!r}",
            "nothing was changed; please report this file's shape",
        )
    return edit


# -- showing a change ----------------------------------------------------------------------------


def text_lines(data: bytes) -> list[str]:
    text = data.decode("utf-8-sig", errors="replace")
    return re.split(r"\r\n|\n|\r", text)


def unified_diff(before: bytes, after: bytes, name: str, context: int = 2) -> str:
    """A unified diff of two versions of a text file (line endings not shown)."""
    lines = difflib.unified_diff(
        text_lines(before),
        text_lines(after),
        f"{name} (current)",
        f"{name} (planned)",
        n=context,
        lineterm="",
    )
    return "\n".join(lines)
