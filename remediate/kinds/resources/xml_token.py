"""xml_token: a token present in (or absent from) a delimited attribute value.

    xml_token:
      path: '%ExchangeInstallPath%FrontEnd\\HttpProxy\\rest\\web.config'
      xpath: /configuration/appSettings/add[@key='OAuthHttpModule.Profiles']/@value
      separator: '|'
      token: V1S2SAppOnly

Tokens match exactly: Exchange splits on the separator without trimming and ignores tokens
it does not know, so ` V1S2SAppOnly` (with a space) is not the token, and the plan says so.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from remediate.kinds.resources import Decision, Reader, Scope
from remediate.kinds.resources.files import FileTarget, ObservedFile, check_xpath, file_decision, observe_file
from remediate.support import xmledit


class XmlToken(BaseModel):
    """Ensure a token is present in, or absent from, a delimited attribute value."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(
        description="The file; %ExchangeInstallPath% and other %variables% are expanded on each server."
    )
    xpath: str = Field(
        description="Selects exactly one attribute, e.g. .../add[@key='OAuthHttpModule.Profiles']/@value"
    )
    separator: str = Field(default="|", min_length=1)
    token: str = Field(min_length=1)
    state: Literal["present", "absent"] = "present"

    _xpath = field_validator("xpath")(check_xpath)

    @field_validator("token")
    @classmethod
    def _no_padding(cls, value: str) -> str:
        if value != value.strip():
            raise ValueError(
                "the token has leading or trailing spaces; Exchange would not trim them and ignore it"
            )
        return _plain_token(value)

    @model_validator(mode="after")
    def _separator_not_in_token(self) -> XmlToken:
        if self.separator in self.token:
            raise ValueError(f"the token contains the separator {self.separator!r}")
        return self


def _plain_token(value: str) -> str:
    """A token is printable ASCII (spaces inside it are allowed). Exchange compares tokens exactly and drops those it does not
    know, silently: a control character, an invisible one (zero-width space, BOM, direction
    marks) or a look-alike letter (Cyrillic 'С' for 'C') pasted from a web page or a chat
    would make the change a no-op that looks done."""
    import unicodedata

    for position, character in enumerate(value, start=1):
        if " " <= character < "\x7f":  # inner spaces are allowed (leading and trailing are not)
            continue
        name = unicodedata.name(character, "")
        kind = "invisible" if unicodedata.category(character) in ("Cf", "Zs", "Zl", "Zp") else "not ASCII"
        if unicodedata.category(character) == "Cc":
            kind = "a control character"
        raise ValueError(
            f"character {position} of the token is {kind}: U+{ord(character):04X}{' ' + name if name else ''}; "
            "tokens are printable ASCII (was it pasted? type it)"
        )
    return value


def _near_misses(value: str, spec: XmlToken) -> list[str]:
    wanted = spec.token.lower()
    return [
        t for t in xmledit.tokens(value, spec.separator) if t != spec.token and t.strip().lower() == wanted
    ]


class XmlTokenResource(FileTarget):
    kind = "xml_token"
    spec = XmlToken
    scopes: tuple[Scope, ...] = ("server",)

    def describe(self, spec: XmlToken) -> str:
        verb = "add" if spec.state == "present" else "remove"
        return (
            f"{verb} {spec.token} {'to' if spec.state == 'present' else 'from'} {spec.xpath} in {spec.path}"
        )

    def observe(self, spec: XmlToken, reader: Reader) -> ObservedFile:
        return observe_file(spec.path, reader)

    def decide(self, spec: XmlToken, observed: ObservedFile) -> Decision:
        present = spec.state == "present"
        edit = xmledit.set_token(
            observed.content, spec.xpath, spec.separator, spec.token, present, observed.path
        )
        misses = _near_misses(edit.before, spec)
        note = (
            f"; note {', '.join(repr(m) for m in misses)} is not {spec.token} (Exchange does not trim)"
            if misses
            else ""
        )
        if not edit.changed:
            state = "already present" if present else "not present"
            summary = f"no change ({spec.token} {state}{note})"
        else:
            summary = f"{'adds' if present else 'removes'} {spec.token}{note}"
        return file_decision(observed, edit, summary)

    def inverse(self, spec: XmlToken, before: bytes, after: bytes, current: bytes) -> bytes:
        """Take back only the token: remove it if we added it, add it if we removed it."""
        undo = spec.state != "present"
        return xmledit.set_token(current, spec.xpath, spec.separator, spec.token, undo, "the file").content


RESOURCE = XmlTokenResource()
