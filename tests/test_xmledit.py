"""The XML editor changes the bytes of the targeted attribute value and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from remediate.support import xmledit
from remediate.support.errors import RemediateError

PROFILES = "/configuration/appSettings/add[@key='OAuthHttpModule.Profiles']/@value"
TOKEN = "V1S2SAppOnly"
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "css-exchange"

# -- generated documents ---------------------------------------------------------------------------

_words = st.sampled_from(
    [
        "S2SAppActAs",
        "S2SAppOnly",
        "V1AppActAs",
        "Callback",
        "CallbackV2",
        TOKEN,
        "v1s2sapponly",
        f" {TOKEN}",
        "",
    ]
)
_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)
_space = st.sampled_from([" ", "  ", "\n    ", "\t", " \n "])


def _raw_value(value: str, quote: str, entity_style: bool) -> str:
    raw = (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(quote, "&quot;" if quote == '"' else "&apos;")
    )
    if entity_style:
        raw = raw.replace("|", "&#124;", 1).replace(">", "&gt;")
    return raw


@st.composite
def documents(draw: st.DrawFn) -> tuple[bytes, str]:
    """(document bytes, the Profiles value) with the shapes a hand-kept web.config has."""
    value = "|".join(draw(st.lists(_words, max_size=6)))
    quote = draw(st.sampled_from(['"', "'"]))
    entity_style = draw(st.booleans())
    target_attributes = [
        f"key{draw(_space).replace(chr(10), '')}={quote}OAuthHttpModule.Profiles{quote}",
        f"value={quote}{_raw_value(value, quote, entity_style)}{quote}",
    ]
    if draw(st.booleans()):
        target_attributes.reverse()
    between = draw(_space)
    closing = draw(st.sampled_from([" />", "/>", "></add>", "\n  />"]))
    target = f"<add {between.join(target_attributes)}{closing}"
    siblings = []
    for _ in range(draw(st.integers(0, 3))):
        sibling_quote = draw(st.sampled_from(['"', "'"]))
        note = _raw_value(draw(_text), sibling_quote, draw(st.booleans()))
        siblings.append(
            f"<add key={sibling_quote}Other{sibling_quote} value={sibling_quote}{note}{sibling_quote} />"
        )
    comment = (
        "<!-- "
        + re.sub("-+", "-", draw(_text)).rstrip("-")  # XML comments hold no "--" (and no "-" at the end)
        + ' <add key="OAuthHttpModule.Profiles" value="x" /> -->'
    )
    children = [*siblings, comment, target]
    order = draw(st.permutations(list(range(len(children)))))
    body = "\n    ".join(children[i] for i in order)
    extras = draw(
        st.sampled_from(
            ["", "<![CDATA[ <add value='not a tag'> ]]>", "<?remediate test?>", "text &amp; more &gt;"]
        )
    )
    declaration = draw(
        st.sampled_from(["", '<?xml version="1.0" encoding="UTF-8"?>\n', "<?xml version='1.0'?>\n"])
    )
    text = (
        f"{declaration}<!-- top comment -->\n<configuration>\n  <appSettings>\n    {body}\n  </appSettings>\n"
        f"  <system.web>{extras}<x a = {quote}1{quote}   b='2'/></system.web>\n</configuration>\n"
    )
    if draw(st.booleans()):
        text = text.replace("\n", "\r\n")
    data = text.encode("utf-8")
    if draw(st.booleans()):
        data = xmledit.BOM + data
    return data, value


def _changed_region(old: bytes, new: bytes) -> tuple[int, int]:
    """The first differing byte, and how many trailing bytes are equal."""
    prefix = 0
    while prefix < min(len(old), len(new)) and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(old), len(new)) - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    return prefix, suffix


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(documents())
def test_adding_a_token_changes_only_that_attribute_value(document: tuple[bytes, str]) -> None:
    data, value = document
    span = xmledit.locate(data, PROFILES, "web.config")
    assert span.value == value
    edit = xmledit.set_token(data, PROFILES, "|", TOKEN, True, "web.config")
    after = etree.fromstring(edit.content).xpath(PROFILES)[0]
    assert TOKEN in after.split("|")
    assert edit.changed == (TOKEN not in value.split("|"))
    prefix, suffix = _changed_region(data, edit.content)
    assert prefix >= span.start and len(data) - suffix <= span.end or not edit.changed
    # Idempotent: adding it again changes nothing.
    assert xmledit.set_token(edit.content, PROFILES, "|", TOKEN, True, "web.config").content == edit.content


@SETTINGS
@given(documents())
def test_remove_after_add_restores_the_exact_bytes(document: tuple[bytes, str]) -> None:
    data, value = document
    if TOKEN in value.split("|"):
        return
    added = xmledit.set_token(data, PROFILES, "|", TOKEN, True, "web.config")
    removed = xmledit.set_token(added.content, PROFILES, "|", TOKEN, False, "web.config")
    assert removed.content == data


@SETTINGS
@given(documents())
def test_removing_a_token_keeps_every_other_token_in_order(document: tuple[bytes, str]) -> None:
    data, value = document
    edit = xmledit.set_token(data, PROFILES, "|", TOKEN, False, "web.config")
    assert edit.after == "|".join(t for t in xmledit.tokens(value, "|") if t != TOKEN)
    span = xmledit.locate(data, PROFILES, "web.config")
    prefix, suffix = _changed_region(data, edit.content)
    assert not edit.changed or (prefix >= span.start and len(data) - suffix <= span.end)


@SETTINGS
@given(documents(), _text)
def test_setting_an_attribute_changes_only_its_value(document: tuple[bytes, str], new_value: str) -> None:
    data, _ = document
    span = xmledit.locate(data, PROFILES, "web.config")
    edit = xmledit.set_attribute(data, PROFILES, new_value, "web.config")
    assert etree.fromstring(edit.content).xpath(PROFILES) == [new_value]
    prefix, suffix = _changed_region(data, edit.content)
    assert not edit.changed or (prefix >= span.start and len(data) - suffix <= span.end)


def test_exact_token_match_only() -> None:
    data = b'<configuration><appSettings><add key="OAuthHttpModule.Profiles" value="A| V1S2SAppOnly|v1s2sapponly" /></appSettings></configuration>'
    edit = xmledit.set_token(data, PROFILES, "|", TOKEN, True, "web.config")
    assert edit.changed and edit.after == "A| V1S2SAppOnly|v1s2sapponly|V1S2SAppOnly"


# -- the real file -------------------------------------------------------------------------------------


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="../shared/fixtures/css-exchange is not present")
@pytest.mark.parametrize("line_ending", [b"\n", b"\r\n"])
def test_real_rest_web_config(line_ending: bytes) -> None:
    data = (
        (FIXTURES / "E19_Exchange_IIS_DefaultWebSite-Rest_web.config")
        .read_bytes()
        .replace(b"\n", line_ending)
    )
    edit = xmledit.set_token(data, PROFILES, "|", TOKEN, True, "web.config")
    old_line = b'value="S2SAppActAs|S2SAppOnly|V1AppActAs|V1AppOnly|Callback|V1S2SActAs|CallbackV2" />'
    new_line = (
        b'value="S2SAppActAs|S2SAppOnly|V1AppActAs|V1AppOnly|Callback|V1S2SActAs|CallbackV2|V1S2SAppOnly" />'
    )
    assert edit.content == data.replace(old_line, new_line)
    assert xmledit.set_token(edit.content, PROFILES, "|", TOKEN, False, "web.config").content == data
    diff = xmledit.unified_diff(data, edit.content, "web.config")
    assert diff.count("\n-  ") == 1 and diff.count("\n+  ") == 1


# -- refusals --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reference"),
    [
        (b"<configuration><appSettings>", "xml-not-well-formed"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><configuration/>', "xml-dtd-refused"),
        (b'<?xml version="1.0" encoding="ISO-8859-1"?><configuration/>', "xml-encoding-unsupported"),
        ("<configuration/>".encode("utf-16"), "xml-encoding-unsupported"),
        (b"<configuration a='\xff'/>", "xml-encoding-unsupported"),
        (b"<configuration/>", "xpath-no-match"),
    ],
)
def test_refusals(data: bytes, reference: str) -> None:
    with pytest.raises(RemediateError) as raised:
        xmledit.set_token(data, PROFILES, "|", TOKEN, True, "web.config")
    assert raised.value.reference == reference
    assert "web.config" in raised.value.message or raised.value.reference == "xpath-no-match"


def test_billion_laughs_is_refused_without_expansion() -> None:
    bomb = b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]><configuration v="&lol2;"/>'
    with pytest.raises(RemediateError) as raised:
        xmledit.locate(bomb, "/configuration/@v", "web.config")
    assert raised.value.reference == "xml-dtd-refused"


def test_xpath_errors() -> None:
    data = b'<configuration><a k="1"/><a k="2"/></configuration>'
    cases = {
        "/configuration/a/@k": "xpath-ambiguous",
        "/configuration/a": "xpath-not-attribute",
        "/configuration/[": "xpath-invalid",
    }
    for xpath, reference in cases.items():
        with pytest.raises(RemediateError) as raised:
            xmledit.set_attribute(data, xpath, "x", "web.config")
        assert raised.value.reference == reference
