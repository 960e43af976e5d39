"""Explain Exchange OAuth errors: x-ms-diagnostics values, WWW-Authenticate headers, and IIS
failed-request logs that contain them; name the playbook that fixes the error when one does.

Exchange's wording differs between builds, so matching is tolerant: codes are found
anywhere, and causes are recognized by their key words, not by exact sentences.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

# x-ms-diagnostics codes: category, and what it means for a client.
CODES: dict[int, tuple[str, str]] = {
    2000000: (
        "invalid_signature",
        "the token's signature could not be verified against the issuer's certificate",
    ),
    2000001: (
        "invalid_token",
        "the token is not acceptable here (malformed, or of a kind this endpoint does not accept)",
    ),
    2000002: ("token_expired", "the token has expired, or the clocks of the servers involved disagree"),
    2000003: (
        "invalid_resource",
        "the token was issued for another resource (audience) than this Exchange endpoint",
    ),
    2000004: ("invalid_tenant", "the token's tenant or realm is not one this organization trusts"),
    2000005: ("invalid_user", "the user the token speaks for could not be found or resolved"),
    2000006: ("invalid_client", "the client application is not known to this organization (or is disabled)"),
    2000007: ("internal_error", "Exchange failed while checking the token; its event log says more"),
    2000008: (
        "invalid_grant",
        "the token does not grant the access asked for (permissions or linked account)",
    ),
}
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"

_DIAGNOSTICS = re.compile(
    r"\b(?P<code>2000\d{3})\b\s*(?:;\s*reason\s*=\s*(?:\"(?P<quoted>[^\"]*)\"|(?P<bare>[^;\r\n<]*)))?"
    r"(?:\s*;\s*error_category\s*=\s*\"?(?P<category>[a-z_]+)\"?)?",
    re.IGNORECASE,
)
_AUTH_PARAMETER = re.compile(r"(?P<key>[A-Za-z_]+)\s*=\s*\"(?P<value>[^\"]*)\"")
_BEARER = re.compile(
    r"(?:WWW-Authenticate\s*:?\s*)?Bearer\s+(?P<parameters>(?:[A-Za-z_]+\s*=\s*\"[^\"]*\"\s*,?\s*)+)", re.I
)
_TOKEN_PROFILE = re.compile(
    r"token\s+profile\W+V1S2SAppOnly|V1S2SAppOnly\W+.*not\s+(?:applicable|supported|allowed)", re.I
)
_GRAPH = re.compile(rf"{GRAPH_APP_ID}|Microsoft\s+Graph", re.I)
_GRANT = re.compile(r"permission|linked\s+account", re.I)
BEARER_ERRORS = {
    "invalid_token": "the token was refused (the x-ms-diagnostics header of the same response says why)",
    "invalid_request": "the request's authorization was malformed",
    "insufficient_scope": "the token lacks the scope the request needs",
}


@dataclass(frozen=True)
class Fix:
    playbook: str
    why: str
    alternatives: tuple[str, ...] = ()


@dataclass
class Finding:
    source: str  # x-ms-diagnostics or WWW-Authenticate
    code: int | None
    category: str
    meaning: str
    reason: str | None = None
    cause: str | None = None
    fix: Fix | None = None
    details: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "code": self.code,
            "category": self.category,
            "meaning": self.meaning,
            "reason": self.reason,
            "cause": self.cause,
            "fix": None
            if self.fix is None
            else {
                "playbook": self.fix.playbook,
                "why": self.fix.why,
                "alternatives": list(self.fix.alternatives),
            },
            "details": self.details,
        }


def _cause(code: int, reason: str) -> tuple[str | None, Fix | None]:
    if code == 2000001 and _TOKEN_PROFILE.search(reason):
        return (
            "the REST front end does not accept app-only (client_credentials) tokens: V1S2SAppOnly is missing "
            "from OAuthHttpModule.Profiles in FrontEnd\\HttpProxy\\rest\\web.config",
            Fix(
                "app-only-graph",
                "adds V1S2SAppOnly on every server (and sets the partner application)",
                ("rest-v1s2s-profile",),
            ),
        )
    if code == 2000008 and _GRAPH.search(reason) and _GRANT.search(reason):
        return (
            "the Microsoft Graph partner application has no AppOnlyPermissions, so app-only tokens grant nothing",
            Fix(
                "app-only-graph",
                "copies Microsoft Graph's ActAsPermissions into AppOnlyPermissions",
                ("graph-app-only-permissions",),
            ),
        )
    return None, None


def _diagnostics(text: str) -> list[Finding]:
    findings = []
    for match in _DIAGNOSTICS.finditer(text):
        code = int(match.group("code"))
        if code not in CODES:
            continue
        category, meaning = CODES[code]
        reason = (match.group("quoted") or match.group("bare") or "").strip() or None
        cause, fix = _cause(code, reason or "")
        findings.append(
            Finding(
                "x-ms-diagnostics", code, match.group("category") or category, meaning, reason, cause, fix
            )
        )
    return findings


def _bearer(text: str) -> list[Finding]:
    findings = []
    for match in _BEARER.finditer(text):
        parameters = {
            m.group("key").lower(): m.group("value")
            for m in _AUTH_PARAMETER.finditer(match.group("parameters"))
        }
        error = parameters.get("error")
        if not error and not parameters.get("trusted_issuers"):
            continue
        meaning = BEARER_ERRORS.get(error or "", "the server asks for a bearer token")
        details = {
            k: v
            for k, v in parameters.items()
            if k in ("client_id", "trusted_issuers", "token_types", "error_description")
        }
        findings.append(
            Finding(
                "WWW-Authenticate",
                None,
                error or "challenge",
                meaning,
                parameters.get("error_description"),
                details=details,
            )
        )
    return findings


def diagnose(text: str) -> list[Finding]:
    """Every recognized Exchange OAuth error in `text` (header values, or a log containing them)."""
    decoded = html.unescape(html.unescape(text))
    findings = _diagnostics(decoded) + _bearer(decoded)
    unique: list[Finding] = []
    for finding in findings:
        if not any(
            f.code == finding.code and f.reason == finding.reason and f.source == finding.source
            for f in unique
        ):
            unique.append(finding)
    return unique
