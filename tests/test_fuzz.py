"""Fuzzing the loaders and the XML editor: any input gives a valid result or a RemediateError
with a message, never a traceback; a hand-edited saved plan is refused."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from remediate.model import inventory
from remediate.model import saved_plan as plan_files
from remediate.model.catalog import builtin_directory
from remediate.model.playbook import LoadedPlaybook, parse
from remediate.support import xmledit
from remediate.support.errors import RemediateError

PROFILES = "/configuration/appSettings/add[@key='OAuthHttpModule.Profiles']/@value"
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REAL_PLAYBOOK = (builtin_directory() / "app-only-graph.yaml").read_bytes()
REAL_INVENTORY = b"""defaults:
  transport: https
  auth: negotiate
  username: CONTOSO\\\\admin
servers:
  ex01: {}
  ex02: {host: 10.0.0.12, port: 5986, exchange: remote}
groups:
  site-a: [ex01, ex02]
"""
WEB_CONFIG = (
    b'\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?>\r\n<configuration>\r\n  <!-- comment -->\r\n'
    b'  <appSettings>\r\n    <add key="OAuthHttpModule.Profiles" value="S2SAppActAs|S2SAppOnly|Callback" />\r\n'
    b"    <add key='Other' value='a &amp; b' />\r\n  </appSettings>\r\n</configuration>\r\n"
)

# -- generators ------------------------------------------------------------------------------------------

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
_keys = st.one_of(
    st.sampled_from(
        [
            "name",
            "description",
            "steps",
            "handlers",
            "preconditions",
            "xml_token",
            "path",
            "xpath",
            "token",
            "separator",
            "notify",
            "scope",
            "exchange_object",
            "noun",
            "identity",
            "property",
            "value",
            "copy_from",
            "restart_iis",
            "servers",
            "defaults",
            "groups",
            "host",
            "port",
            "transport",
            "auth",
            "exchange",
            "ca_file",
            "username",
            "timeout",
            "insecure",
            "exchange_build",
            "minimum",
        ]
    ),
    st.text(max_size=10),
)
_documents = st.recursive(
    _scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(_keys, children, max_size=5)),
    max_leaves=25,
)


@st.composite
def mutated(draw: st.DrawFn, original: bytes) -> bytes:
    """`original` with a few bytes replaced, inserted or deleted."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, max(0, len(data) - 1)))
        action = draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = draw(st.integers(0, 255))
        if action == "replace" and data:
            data[position] = byte
        elif action == "insert":
            data.insert(position, byte)
        elif data:
            del data[position]
    return bytes(data)


def inputs(real: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(lambda text: text.encode("utf-8")),
        _documents.map(lambda document: yaml.safe_dump(document).encode("utf-8")),
        mutated(real),
    )


def _message_only(error: RemediateError) -> None:
    assert error.reference and error.message and "Traceback" not in error.message


# -- loaders ------------------------------------------------------------------------------------------------


@SETTINGS
@given(inputs(REAL_PLAYBOOK))
@example(b"\x00" + REAL_PLAYBOOK[1:])  # found by this test: a control character YAML refuses
def test_any_playbook_text_loads_or_fails_with_a_message(data: bytes) -> None:
    try:
        loaded = parse(data, "fuzzed.yaml")
    except RemediateError as error:
        _message_only(error)
        return
    assert isinstance(loaded, LoadedPlaybook) and loaded.playbook.steps


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as directory:
        yield Path(directory)


@SETTINGS
@given(data=inputs(REAL_INVENTORY))
@example(data=b"$[: 1\nservers: {}")  # found by this test: an unknown key that looks like a type name
def test_any_inventory_loads_or_fails_with_a_message(scratch: Path, data: bytes) -> None:
    path = scratch / "inventory.yaml"
    path.write_bytes(data)
    try:
        loaded = inventory.load(path)
        selected = loaded.select([])
    except RemediateError as error:
        _message_only(error)
        return
    assert isinstance(selected, list)


# -- the XML editor ----------------------------------------------------------------------------------------


@SETTINGS
@given(
    data=inputs(WEB_CONFIG),
    token=st.text(min_size=1, max_size=12).filter(lambda t: "|" not in t),
    present=st.booleans(),
)
def test_any_file_is_edited_exactly_or_refused(data: bytes, token: str, present: bool) -> None:
    try:
        edit = xmledit.set_token(data, PROFILES, "|", token, present, "web.config")
    except RemediateError as error:
        _message_only(error)
        return
    parts = xmledit.tokens(xmledit.locate(edit.content, PROFILES, "x").value, "|")
    assert (token in parts) == present


@SETTINGS
@given(data=inputs(WEB_CONFIG), value=st.text(max_size=20))
def test_any_attribute_value_is_set_exactly_or_refused(data: bytes, value: str) -> None:
    try:
        edit = xmledit.set_attribute(data, PROFILES, value, "web.config")
    except RemediateError as error:
        _message_only(error)
        return
    assert xmledit.locate(edit.content, PROFILES, "x").value == value


# -- saved plans -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_plan(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    from click.testing import CliRunner

    from remediate.cli import main

    state = tmp_path_factory.mktemp("plan-state")
    out = state / "change.plan"
    result = CliRunner().invoke(
        main, ["--state-dir", str(state), "plan", "app-only-graph", "--host", "sim", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out.read_bytes()


@SETTINGS
@given(data=st.data())
def test_a_hand_edited_plan_is_refused(saved_plan: bytes, scratch: Path, data: Any) -> None:
    edited = data.draw(mutated(saved_plan))
    path = scratch / "edited.plan"
    path.write_bytes(edited)
    try:
        same = json.loads(edited) == json.loads(saved_plan)
    except ValueError:
        same = False
    if same:  # only the layout changed (white space between JSON tokens): still the reviewed plan
        assert plan_files.load(path).plan is not None
        return
    with pytest.raises(RemediateError) as refused:
        plan_files.load(path)
    assert refused.value.reference in ("plan-tampered", "plan-invalid", "plan-version")
