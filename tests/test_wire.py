"""remediate.winrm.wire over every shape Windows PowerShell 5.1 can send for what remediate reads.

Each case is CLIXML as the 5.1 serializer writes it, fed through pypsrp's own deserializer,
so the test sees exactly what remediate sees from a real server.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypsrp.serializer import Serializer

from remediate.support.errors import RemediateError
from remediate.winrm.wire import content_bytes, plain, properties, text

OBJECT_ARRAY = "<TN RefId='0'><T>System.Object[]</T><T>System.Array</T><T>System.Object</T></TN>"
NOTES = (
    "<MS><S N='PSPath'>Microsoft.PowerShell.Core\\FileSystem::C:\\x\\web.config</S>"
    "<S N='PSParentPath'>Microsoft.PowerShell.Core\\FileSystem::C:\\x</S><S N='PSChildName'>web.config</S>"
    "<S N='PSDrive'>C</S><S N='PSProvider'>Microsoft.PowerShell.Core\\FileSystem</S>"
    "<I64 N='ReadCount'>{count}</I64></MS>"
)


def wire(clixml: str) -> Any:
    """What pypsrp 0.9 hands back for one serialized output object."""
    return Serializer().deserialize(ET.fromstring(clixml))


def object_array(data: bytes, count: int | None = None) -> str:
    """`Get-Content -Encoding Byte -ReadCount 0`: one object[] of boxed bytes, with notes."""
    items = "".join(f"<By>{b}</By>" for b in data)
    notes = NOTES.format(count=len(data) if count is None else count)
    return f"<Obj RefId='0'>{OBJECT_ARRAY}<LST>{items}</LST>{notes}</Obj>"


def boxed_byte(value: int, count: int) -> str:
    """`-ReadCount 1`: each byte alone, a primitive with notes."""
    return f"<Obj RefId='0'><By>{value}</By>{NOTES.format(count=count)}</Obj>"


def string_with_notes(value: str) -> str:
    """`Get-Content -Raw`: a string with notes, no type names and no ToString."""
    escaped = "".join(
        f"_x{ord(c):04X}_" if ord(c) < 0x20 or c == "_" else {"&": "&amp;", "<": "&lt;"}.get(c, c)
        for c in value
    )
    return f"<Obj RefId='0'><S>{escaped}</S>{NOTES.format(count=1)}</Obj>"


# -- file content -------------------------------------------------------------------------------


def test_today_a_real_read_crashed_and_now_it_reads() -> None:
    output = [wire(object_array(b"\xef\xbb\xbf<configuration />"))]
    assert output == [list(b"\xef\xbb\xbf<configuration />")]  # pypsrp: one list of ints
    with pytest.raises(TypeError):
        bytes(int(b) for b in output)  # what remediate did before: int() of a list
    assert content_bytes(output) == b"\xef\xbb\xbf<configuration />"


@given(st.binary(min_size=1, max_size=300), st.integers(min_value=1, max_value=64))
def test_every_block_shape_gives_the_same_bytes(data: bytes, read_count: int) -> None:
    whole = [wire(object_array(data))]
    blocks = [
        wire(object_array(data[i : i + read_count], count=i + read_count))
        for i in range(0, len(data), read_count)
    ]
    singles = [wire(boxed_byte(b, i + 1)) for i, b in enumerate(data)]
    byte_array = [wire(f"<BA>{base64.b64encode(data).decode()}</BA>")]
    inner = object_array(data).replace("RefId='0'", "RefId='1'")
    nested = [wire(f"<Obj RefId='0'>{OBJECT_ARRAY}<LST>{inner}</LST></Obj>")]
    for output in (whole, blocks, singles, byte_array, nested):
        assert content_bytes(output) == data


@given(st.binary(min_size=1, max_size=300), st.integers(min_value=1, max_value=64))
def test_the_byte_shortcut_gives_what_pypsrp_gives(data: bytes, read_count: int) -> None:
    """remediate's pools deserialize with `ByteShortcutSerializer`: over every shape, the same
    values as pypsrp's own deserializer."""
    from remediate.winrm.serializer import ByteShortcutSerializer

    inner = object_array(data).replace("RefId='0'", "RefId='1'")
    shapes = [
        object_array(data),
        *(
            object_array(data[i : i + read_count], count=i + read_count)
            for i in range(0, len(data), read_count)
        ),
        *(boxed_byte(b, i + 1) for i, b in enumerate(data[:8])),
        f"<BA>{base64.b64encode(data).decode()}</BA>",
        f"<Obj RefId='0'>{OBJECT_ARRAY}<LST>{inner}</LST></Obj>",
        string_with_notes(data.decode("latin-1").replace("\x00", "")),
        f"<By>{data[0]}</By>",
    ]
    for shape in shapes:
        stock = Serializer().deserialize(ET.fromstring(shape))
        fast = ByteShortcutSerializer().deserialize(ET.fromstring(shape))
        assert plain(fast) == plain(stock) and type(fast) is type(stock)
        if not isinstance(plain(stock), str):
            assert content_bytes([fast]) == content_bytes([stock])


def test_a_list_of_numbers_that_are_not_all_bytes_is_refused() -> None:
    for shape in ([1, 300], [True, 1], [1, -1]):
        with pytest.raises(RemediateError):
            content_bytes([shape])


def test_remediate_s_pools_get_the_byte_shortcut() -> None:
    """Pinned to pypsrp 0.9's insides: if an upgrade moves them, this fails (the pools would
    fall back to pypsrp's serializer: the same values, slower)."""
    from pypsrp.powershell import RunspacePool
    from pypsrp.wsman import WSMan

    from remediate.winrm.serializer import ByteShortcutSerializer, install

    pool = RunspacePool(WSMan("127.0.0.1", port=9, ssl=False, auth="ntlm", username="u", password="p"))
    assert install(pool)
    assert isinstance(pool._serializer, ByteShortcutSerializer)
    assert pool._fragmenter.serializer is pool._serializer
    assert not install(pool)  # once


def test_no_output_is_an_empty_file() -> None:
    assert content_bytes([]) == b""


def test_a_byte_array_with_notes_is_refused_not_read_as_empty() -> None:
    # pypsrp 0.9 turns <Obj><TN>System.Byte[]..</TN><BA>..</BA><MS>..</MS></Obj> into [], losing the bytes
    shape = "<TN RefId='0'><T>System.Byte[]</T><T>System.Array</T><T>System.Object</T></TN>"
    output = [wire(f"<Obj RefId='0'>{shape}<BA>AAEC</BA>{NOTES.format(count=1)}</Obj>")]
    with pytest.raises(RemediateError) as raised:
        content_bytes(output)
    assert raised.value.reference == "unexpected-output"


def test_content_that_is_not_bytes_is_refused() -> None:
    with pytest.raises(RemediateError):
        content_bytes([wire(string_with_notes("not bytes"))])
    with pytest.raises(RemediateError):
        content_bytes([[300]])


# -- text -----------------------------------------------------------------------------------------


@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=80)
)
def test_a_string_with_notes_is_its_text(value: str) -> None:
    found = wire(string_with_notes(value))
    assert str(found) == "None"  # what remediate read before: the lock holder was "unknown"
    assert text([found]) == value


def test_text_of_plain_and_missing_values() -> None:
    assert text([]) is None
    assert text([None]) is None
    assert text([wire("<S>plain</S>")]) == "plain"
    assert text([wire(string_with_notes("_x0041_ stays"))]) == "_x0041_ stays"  # unescaped once, not twice
    lock = '{"run": "20261129T120000-abcdef", "operator": "CONTOSO\\\\admin"}'
    assert text([wire(string_with_notes(lock))]) == lock


# -- properties -------------------------------------------------------------------------------------


def test_multi_valued_property_string_array_and_null() -> None:
    mvp = (
        "<Obj RefId='0'><TN RefId='0'><T>Microsoft.Exchange.Data.MultiValuedProperty`1[[System.String]]</T>"
        "<T>Microsoft.Exchange.Data.MultiValuedPropertyBase</T><T>System.Object</T></TN>"
        "<LST><S>Mail.Read</S><S>Mail_x000A_Send</S></LST></Obj>"
    )
    strings = (
        "<Obj RefId='1'><TN RefId='1'><T>System.String[]</T><T>System.Array</T><T>System.Object</T></TN>"
        "<LST><S>a</S><S>b</S></LST></Obj>"
    )
    app = wire(
        "<Obj RefId='9'><TN RefId='9'><T>Microsoft.Exchange.Data.Directory.SystemConfiguration.PartnerApplication</T>"
        f"<T>System.Object</T></TN><ToString>Microsoft Graph</ToString><Props>"
        f"{mvp.replace('<Obj ', '<Obj N=' + chr(39) + 'ActAsPermissions' + chr(39) + ' ')}"
        f"{strings.replace('<Obj ', '<Obj N=' + chr(39) + 'Names' + chr(39) + ' ')}"
        "<Nil N='AppOnlyPermissions' /><B N='Enabled'>true</B><S N='Name'>Microsoft Graph</S></Props></Obj>"
    )
    values = properties(app)
    assert values["ActAsPermissions"] == ["Mail.Read", "Mail\nSend"]
    assert values["Names"] == ["a", "b"]
    assert values["AppOnlyPermissions"] is None
    assert values["Enabled"] is True and values["Name"] == "Microsoft Graph"


def test_a_wrapped_primitive_property_is_its_value() -> None:
    hashed = wire(
        "<Obj RefId='0'><TN RefId='0'><T>Microsoft.Powershell.Utility.FileHash</T>"
        "<T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN>"
        "<MS><S N='Algorithm'>SHA256</S><Obj N='Hash' RefId='1'><S>ABCDEF</S><MS><S N='Note'>x</S></MS></Obj>"
        "<S N='Path'>C:\\x</S></MS></Obj>"
    )
    assert properties(hashed)["Hash"] == "ABCDEF"
    assert plain(wire("<Obj RefId='0'><I32>5</I32><MS><S N='Note'>x</S></MS></Obj>")) == 5


def test_properties_refuses_what_is_not_an_object() -> None:
    with pytest.raises(RemediateError):
        properties("a string")


def test_an_enum_is_its_name_not_its_number() -> None:
    status = wire(
        "<Obj RefId='0'><TN RefId='0'><T>System.ServiceProcess.ServiceControllerStatus</T><T>System.Enum</T>"
        "<T>System.ValueType</T><T>System.Object</T></TN><ToString>Running</ToString><I32>4</I32></Obj>"
    )
    assert plain(status) == "Running"
