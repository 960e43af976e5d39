"""Playbooks: the built-ins, validation errors that point at file:line:column, the schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from remediate.cli import main
from remediate.kinds.resources.exchange_object import RESOURCE as EXCHANGE_OBJECT
from remediate.kinds.resources.exchange_object import ExchangeObject, ObservedObject, same
from remediate.model import catalog, playbook
from remediate.support.errors import RemediateError

GOOD = """\
name: example
description: An example.
steps:
  - name: Add a token
    xml_token:
      path: 'C:\\app\\web.config'
      xpath: "/configuration/appSettings/add[@key='K']/@value"
      token: T
    notify: [restart]
handlers:
  - name: restart
    restart_iis: {}
"""


def load_text(tmp_path: Path, text: str) -> playbook.LoadedPlaybook:
    path = tmp_path / "book.yaml"
    path.write_text(text, encoding="utf-8")
    return playbook.load(str(path))


def problem(tmp_path: Path, text: str) -> RemediateError:
    with pytest.raises(RemediateError) as raised:
        load_text(tmp_path, text)
    assert raised.value.reference == "playbook-invalid"
    return raised.value


def test_built_in_playbooks_load() -> None:
    assert catalog.builtin_names() == [
        "app-only-graph",
        "extended-protection",
        "graph-app-only-permissions",
        "hybrid-lab-baseline",  # a set
        "repair-install-dir",
        "rest-v1s2s-profile",
        "serialization-signing",
        "tls12",
    ]
    for name in catalog.builtin_names():
        book = playbook.load(name).playbook
        assert book.support is not None and book.microsoft_source  # each says whose fix it is
        if book.support == "unsupported":
            assert "unsupported" in (book.notice or "").lower() and "2023" in (book.notice or "")
    graph = playbook.load("app-only-graph").playbook
    assert [(s.kind, s.effective_scope) for s in graph.steps] == [
        ("xml_token", "server"),
        ("exchange_object", "organization"),
    ]
    assert [h.kind for h in graph.handlers] == ["restart_iis"]


def test_a_good_playbook(tmp_path: Path) -> None:
    loaded = load_text(tmp_path, GOOD)
    assert loaded.name == "example" and len(loaded.digest) == 64
    assert loaded.playbook.steps[0].settings.separator == "|"


@pytest.mark.parametrize(
    ("change", "where", "message", "hint"),
    [
        (
            ("      token: T\n", "      token: T\n      seperator: ';'\n"),
            "9:7: steps[0].xml_token.seperator",
            "unknown key 'seperator'",
            "did you mean 'separator'?",
        ),
        (
            ("    notify: [restart]", "    notify: [restrat]"),
            "9:14: steps[0].notify[0]",
            "no handler named 'restrat'",
            "did you mean 'restart'?",
        ),
        (
            ("      token: T", "      token: ' T'"),
            "8:14: steps[0].xml_token.token",
            "leading or trailing spaces",
            "schema",
        ),
        (
            ("      token: T", "      token: 'A|B'"),
            "6:7: steps[0].xml_token",
            "the token contains the separator '|'",
            "schema",
        ),
        (
            ("    xml_token:", "    scope: organization\n    xml_token:"),
            "4:5: steps[0]",
            "xml_token steps run at scope server, not organization",
            "schema",
        ),
        (
            ("    restart_iis: {}", "    restart_iis: {}\n    recycle_app_pools: {pools: [A]}"),
            "11:5: handlers[0]",
            "needs exactly one of: restart_iis, recycle_app_pools",
            "schema",
        ),
        (("description: An example.\n", ""), "1:1: description", "'description' is required", "schema"),
        (("name: example", "name: Example Book"), "1:7: name", "should match pattern", "schema"),
    ],
)
def test_errors_point_at_the_bad_value(
    tmp_path: Path, change: tuple[str, str], where: str, message: str, hint: str
) -> None:
    error = problem(tmp_path, GOOD.replace(*change))
    assert f"book.yaml:{where}: " in error.message and message in error.message
    assert hint in (error.hint or "")


def test_yaml_syntax_and_duplicate_keys(tmp_path: Path) -> None:
    assert "book.yaml:4:1: not valid YAML" in problem(tmp_path, "name: x\ndescription: [\nsteps: 1\n").message
    assert "book.yaml:2:1: duplicate key 'name'" in problem(tmp_path, "name: x\nname: y\n").message


def test_step_without_a_kind(tmp_path: Path) -> None:
    error = problem(tmp_path, "name: x\ndescription: y\nsteps:\n  - name: nothing\n")
    assert (
        "book.yaml:4:5: steps[0]: needs exactly one of: xml_token, xml_attribute, xml_attributes, text_replace, "
        "registry_value, exchange_object, exchange_setting_override" in error.message
    )


def test_exchange_object_needs_one_source(tmp_path: Path) -> None:
    text = "name: x\ndescription: y\nsteps:\n  - name: s\n    exchange_object: {noun: PartnerApplication, identity: G, property: AppOnlyPermissions}\n"
    assert "give exactly one of 'value' and 'copy_from'" in problem(tmp_path, text).message


def test_schema_lists_every_kind() -> None:
    result = CliRunner().invoke(main, ["schema"])
    schema = json.loads(result.output)
    step = schema["$defs"]["Step"]["properties"]
    assert {"xml_token", "xml_attribute", "exchange_object", "name", "scope", "notify"} <= set(step)
    assert {"restart_iis", "recycle_app_pools"} <= set(schema["$defs"]["Handler"]["properties"])


def test_validate_list_and_show(tmp_path: Path) -> None:
    runner = CliRunner()
    good = tmp_path / "good.yaml"
    good.write_text(GOOD, encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("restart_iis: {}", "restart_isi: {}"), encoding="utf-8")
    result = runner.invoke(main, ["validate", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"ok: {good} (example, 1 steps)" in result.output
    assert "hint: did you mean 'restart_iis'?" in result.output
    listed = runner.invoke(main, ["list"]).output
    assert listed.splitlines()[0].startswith("app-only-graph ")
    shown = runner.invoke(main, ["show", "app-only-graph"]).output
    assert (
        "2. Copy Microsoft Graph's ActAsPermissions into its AppOnlyPermissions  [exchange_object, once for the organization]"
        in shown
    )
    assert "restart-iis: Restart-Service -Name W3SVC,WAS -Force" in shown


# -- pure decisions (no server needed) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "desired", "equal"),
    [
        (None, [], True),
        (["b", "a"], ["a", "b"], True),
        (["a"], ["a", "b"], False),
        (True, "true", True),
        ("x", "y", False),
        (None, "x", False),
    ],
)
def test_multi_valued_values_compare_as_sets(current: object, desired: object, equal: bool) -> None:
    assert same(current, desired) is equal


def test_exchange_object_decision() -> None:
    spec = ExchangeObject(
        noun="PartnerApplication", identity="G", property="AppOnlyPermissions", copy_from="ActAsPermissions"
    )
    observed = ObservedObject({"AppOnlyPermissions": None, "ActAsPermissions": ["Mail.Read"]}, settable=True)
    decision = EXCHANGE_OBJECT.decide(spec, observed)
    assert decision.changed and decision.after_state == b'["Mail.Read"]' and decision.before is None
    blocked = ObservedObject(observed.properties, settable=False)
    with pytest.raises(RemediateError) as raised:
        EXCHANGE_OBJECT.decide(spec, blocked)
    assert raised.value.reference == "exchange-parameter-unavailable"
    done = ObservedObject(
        {"AppOnlyPermissions": ["Mail.Read"], "ActAsPermissions": ["Mail.Read"]}, settable=False
    )
    assert not EXCHANGE_OBJECT.decide(spec, done).changed  # nothing to write: no parameter needed


def test_every_problem_is_shown_each_at_its_place(tmp_path: Path) -> None:
    text = GOOD.replace("      token: T\n", "      token: T\n      tokn: U\n") + (
        "  - name: Another\n"
        "    xml_token:\n"
        "      path: 'C:\\\\app\\\\web.config'\n"
        "      xpath: \"/configuration/appSettings/add[@key='K']/@value\"\n"
    )
    text = text.replace("handlers:\n", "").replace("  - name: restart\n    restart_iis: {}\n", "")
    text = text.replace("    notify: [restart]\n", "")
    error = problem(tmp_path, text)
    lines = error.message.splitlines()
    assert len(lines) == 2, error.message
    assert lines[0].endswith("book.yaml:9:7: steps[0].xml_token.tokn: unknown key 'tokn'")
    assert lines[1].startswith("    also ") and lines[1].endswith(
        "book.yaml:12:7: steps[1].xml_token.token: 'token' is required"
    )
    assert error.hint == "did you mean 'token'?"
