"""xml_attributes: several attributes of one file hold given values, in one write.

    xml_attributes:
      path: '%windir%\\System32\\inetsrv\\config\\applicationHost.config'
      create: true          # an element the XPath names that is missing is added
      set:
        - xpath: "/configuration/location[@path='Default Web Site/ecp']/system.webServer/security/authentication/windowsAuthentication/extendedProtection/@tokenChecking"
          value: Require
        - xpath: "/configuration/location[@path='Exchange Back End/PowerShell']/system.webServer/security/access/@sslFlags"
          flags: [Ssl, Ssl128, SslNegotiateCert]   # each present; the rest kept
      ignore_case: true     # [@path='...'] compares as IIS compares location paths

One step, one target, one write: a large file (applicationHost.config) is read, written and
verified once, not once per attribute. Each attribute is spliced as `xml_attribute` does;
with `create`, a missing element is added as the first child of its parent
(`remediate.support.xmlinsert`). A `flags` setting treats the attribute as IIS flags ("Ssl,
Ssl128"): each flag listed is added after the others (written `, Flag`, as IIS writes them;
"None" is replaced), the flags already there stay as they are, in their order: nothing
changes when all are present. With `inherit` (an XPath to the attribute that applies while
this one is missing, as a location inherits from its site), a missing attribute is added only
when what it inherits is not already the wanted value; with flags, the inherited flags are
its starting value (as Microsoft's script reads a location's sslFlags, falling back to its
site's). With `ignore_case`, each `[@name='value']` predicate of the
XPaths compares without case (IIS location paths are not case-sensitive; Microsoft's script
compares them with PowerShell's `-eq`). Undoing only this change (`--strategy inverse`) puts back the
earlier values; an element this change added cannot be taken back alone: restore the snapshot
(`--force`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from remediate.kinds.resources import Decision, Reader, Scope
from remediate.kinds.resources.files import FileTarget, ObservedFile, check_xpath, file_decision, observe_file
from remediate.support import xmledit, xmlinsert
from remediate.support.errors import RemediateError
from remediate.support.xpath import caseless


class Setting(BaseModel):
    model_config = ConfigDict(extra="forbid")
    xpath: str = Field(description="Selects exactly one attribute (or, with create, names one to add).")
    value: str | None = Field(default=None, description="The value the attribute holds.")
    flags: list[Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9]*$")]] | None = Field(
        default=None, min_length=1, description="IIS flags the attribute includes (the rest are kept)."
    )

    inherit: str | None = Field(
        default=None,
        description="Where the value that applies comes from while this attribute is missing (an XPath to "
        "an attribute, e.g. the site's location): nothing is added when it already is the wanted value.",
    )

    _xpath = field_validator("xpath")(check_xpath)
    _inherit = field_validator("inherit")(check_xpath)

    @model_validator(mode="after")
    def _one(self) -> Setting:
        if (self.value is None) == (self.flags is None):
            raise ValueError("give exactly one of value or flags")
        return self


class XmlAttributes(BaseModel):
    """Set several attribute values of one file, in one write."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="The file; %variables% are expanded on each server.")
    set: list[Setting] = Field(min_length=1)
    create: bool = Field(default=False, description="Add an element the XPath names when it is missing.")
    ignore_case: bool = Field(
        default=False, description="[@name='value'] predicates compare without case (IIS location paths)."
    )


def with_flags(current: str, flags: list[str]) -> str:
    """`current` (IIS flags, "Ssl, Ssl128") with each of `flags` present: missing ones added
    after the others as IIS writes them; "None" (or nothing) replaced; the rest kept as is."""
    have = [flag.strip() for flag in current.split(",")] if current.strip() else []
    missing = [flag for flag in flags if flag not in have]
    if not missing:
        return current
    if not have or [flag.lower() for flag in have] == ["none"]:
        return ", ".join(missing)
    return current + "".join(", " + flag for flag in missing)


def _value_at(content: bytes, xpath: str, name: str) -> str | None:
    """The value of the one attribute `xpath` selects; None if it selects nothing."""
    try:
        return xmledit.locate(content, xpath, name).value
    except RemediateError as error:
        if error.reference != "xpath-no-match":
            raise
        return None


def _evaluated(spec: XmlAttributes, xpath: str) -> str:
    """An XPath of the spec as it is evaluated (without case, with `ignore_case`)."""
    return caseless(xpath) if spec.ignore_case and xpath else xpath


def edit_all(spec: XmlAttributes, content: bytes, name: str) -> tuple[bytes, list[str]]:
    """The file with every setting applied, and what each did (for people)."""
    done = []
    for setting in spec.set:
        xpath, inherit = _evaluated(spec, setting.xpath), _evaluated(spec, setting.inherit or "")
        own = _value_at(content, xpath, name)
        inherited = _value_at(content, inherit, name) if own is None and inherit else None
        current = own if own is not None else (inherited or "")
        value = setting.value if setting.value is not None else with_flags(current, setting.flags or [])
        if own is None and inherited is not None and value == inherited:
            continue  # the value that applies here (inherited) is already the wanted one
        if own is not None or not spec.create:
            edit = xmledit.set_attribute(content, xpath, value, name)
            if edit.changed:
                done.append(f"{edit.before!r} -> {value!r}")
        else:
            edit = xmlinsert.add_element(content, xpath, value, name)
            done.append(
                f"added -> {value!r}" + (f" (was {inherited!r} from {setting.inherit})" if inherited else "")
            )
        content = edit.content
    return content, done


class XmlAttributesResource(FileTarget):
    kind = "xml_attributes"
    spec = XmlAttributes
    scopes: tuple[Scope, ...] = ("server",)

    def describe(self, spec: XmlAttributes) -> str:
        return f"set {len(spec.set)} attribute(s) in {spec.path}" + (
            " (adding missing elements)" if spec.create else ""
        )

    def observe(self, spec: XmlAttributes, reader: Reader) -> ObservedFile:
        return observe_file(spec.path, reader)

    def decide(self, spec: XmlAttributes, observed: ObservedFile) -> Decision:
        content, done = edit_all(spec, observed.content, observed.path)
        changed = content != observed.content
        summary = (
            f"sets {len(done)} of {len(spec.set)} attributes"
            + (
                f" ({sum(1 for d in done if d.startswith('added'))} added)"
                if any(d.startswith("added") for d in done)
                else ""
            )
            if changed
            else f"no change (all {len(spec.set)} attributes as wanted)"
        )
        # file_decision takes "changed" from the edit: before and after stand for the whole file
        edit = xmledit.Edit("as found", "as wanted" if changed else "as found", content)
        return file_decision(observed, edit, summary)

    def inverse(self, spec: XmlAttributes, before: bytes, after: bytes, current: bytes) -> bytes:
        """Put back each earlier value where it existed; refuse where this change added it (a
        setting that added nothing, its inherited value being the wanted one, is left alone)."""
        for setting in spec.set:
            xpath = _evaluated(spec, setting.xpath)
            earlier = _value_at(before, xpath, "the earlier file")
            if earlier is None and _value_at(after, xpath, "the written file") is None:
                continue
            if earlier is None:
                raise RemediateError(
                    "inverse-impossible",
                    "this change added an element that a later edit may rely on: it cannot be undone alone",
                    "restore the exact snapshot with --force",
                )
            current = xmledit.set_attribute(current, xpath, earlier, "the file").content
        return current


RESOURCE = XmlAttributesResource()
