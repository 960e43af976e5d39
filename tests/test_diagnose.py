"""`remediate diagnose`: Exchange OAuth errors explained, and the playbook that fixes them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from remediate.app.diagnosis import diagnose
from remediate.cli import main

DATA = Path(__file__).parent / "data"
PROFILE = (
    "2000001;reason=\"This token profile 'V1S2SAppOnly' is not applicable for the current protocol.\";"
    'error_category="invalid_token"'
)
GRANT = (
    '2000008;reason="The token should have valid permissions or linked account associated with partner '
    'application \'00000003-0000-0000-c000-000000000000\'.";error_category="invalid_grant"'
)


def cli(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(main, ["diagnose", *args], input=stdin, catch_exceptions=False)


def test_the_missing_token_profile_names_app_only_graph() -> None:
    [finding] = diagnose(PROFILE)
    assert (finding.code, finding.category) == (2000001, "invalid_token")
    assert finding.fix is not None and finding.fix.playbook == "app-only-graph"
    assert "rest-v1s2s-profile" in finding.fix.alternatives
    result = cli(PROFILE)
    assert result.exit_code == 0
    assert "remediate apply app-only-graph" in result.output and "OAuthHttpModule.Profiles" in result.output


def test_the_missing_app_only_permissions_name_app_only_graph() -> None:
    [finding] = diagnose(GRANT)
    assert (finding.code, finding.category) == (2000008, "invalid_grant")
    assert finding.fix is not None and finding.fix.playbook == "app-only-graph"
    assert "graph-app-only-permissions" in finding.fix.alternatives


@pytest.mark.parametrize(
    "variant",
    [
        # another build's wording, spacing and quoting
        '2000001; reason="The token profile V1S2SAppOnly is not applicable for the current protocol"; '
        "error_category=invalid_token",
        "x-ms-diagnostics: 2000001;reason=\"Token profile 'V1S2SAppOnly' isn't supported\"",
        # as a browser's developer tools copy it, entity-escaped
        "2000001;reason=&quot;This token profile &apos;V1S2SAppOnly&apos; is not applicable.&quot;",
    ],
)
def test_wording_differences_are_tolerated(variant: str) -> None:
    [finding] = diagnose(variant)
    assert finding.code == 2000001 and finding.fix is not None and finding.fix.playbook == "app-only-graph"


def test_a_grant_error_for_another_partner_application_has_no_playbook() -> None:
    text = GRANT.replace("00000003-0000-0000-c000-000000000000", "00000004-0000-0ff1-ce00-000000000000")
    [finding] = diagnose(text)
    assert finding.code == 2000008 and finding.fix is None


@pytest.mark.parametrize(
    ("code", "category"),
    [
        (2000000, "invalid_signature"),
        (2000002, "token_expired"),
        (2000003, "invalid_resource"),
        (2000004, "invalid_tenant"),
        (2000005, "invalid_user"),
        (2000006, "invalid_client"),
        (2000007, "internal_error"),
    ],
)
def test_every_code_is_explained(code: int, category: str) -> None:
    result = cli(f'{code};reason="something";error_category="{category}"', "--output", "json")
    assert result.exit_code == 0
    [finding] = json.loads(result.output)["findings"]
    assert finding["code"] == code and finding["category"] == category and finding["meaning"]
    assert finding["fix"] is None


def test_a_www_authenticate_header() -> None:
    header = (
        'WWW-Authenticate: Bearer client_id="00000002-0000-0ff1-ce00-000000000000", '
        'trusted_issuers="00000001-0000-0000-c000-000000000000@*", '
        'token_types="app_asserted_user_v1 service_asserted_app_v1", error="invalid_token"'
    )
    [finding] = diagnose(header)
    assert finding.source == "WWW-Authenticate" and finding.category == "invalid_token"
    assert finding.details["client_id"] == "00000002-0000-0ff1-ce00-000000000000"


def test_a_failed_request_log() -> None:
    result = cli("-f", str(DATA / "freb-app-only-401.xml"), "--output", "json")
    assert result.exit_code == 0, result.output
    findings = json.loads(result.output)["findings"]
    assert [f["source"] for f in findings] == ["x-ms-diagnostics", "WWW-Authenticate"]
    assert findings[0]["code"] == 2000001 and findings[0]["fix"]["playbook"] == "app-only-graph"


def test_headers_from_standard_input() -> None:
    result = cli("-f", "-", stdin=f"HTTP/1.1 401 Unauthorized\r\nx-ms-diagnostics: {GRANT}\r\n\r\n")
    assert result.exit_code == 0 and "app-only-graph" in result.output


def test_nothing_recognized() -> None:
    result = cli("HTTP/1.1 500 Internal Server Error")
    assert result.exit_code == 1
    assert "nothing-recognized" in result.output and "x-ms-diagnostics" in result.output
