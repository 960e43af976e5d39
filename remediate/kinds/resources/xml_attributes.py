"""xml_attributes: several attributes of one file hold given values, in one write.

    xml_attributes:
      path: '%windir%\\System32\\inetsrv\\config\\applicationHost.config'
      create: true          # an element the XPath names that is missing is added
      set:
        - xpath: "/configuration/location[@path='Default Web Site/ecp']/system.webServer/security/authentication/windowsAuthentication/extendedProtection/@tokenChecking"
          value: Require

One step, one target, one write: a large file (applicationHost.config) is read, written and
verified once, not once per attribute. Each attribute is spliced as `xml_attribute` does;
with `create`, a missing element is added as the first child of its parent
(`remediate.support.xmlinsert`). Undoing only this change (`--strategy inverse`) puts back the
earlier values; an element this change added cannot be taken back alone: restore the snapshot
(`--force`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from remediate.kinds.resources import Decision, Reader, Scope
from remediate.kinds.resources.files import FileTarget, ObservedFile, check_xpath, file_decision, observe_file
from remediate.support import xmledit, xmlinsert
from remediate.support.errors import RemediateError


class Setting(BaseModel):
    model_config = ConfigDict(extra="forbid")
    xpath: str = Field(description="Selects exactly one attribute (or, with create, names one to add).")
    value: str

    _xpath = field_validator("xpath")(check_xpath)


class XmlAttributes(BaseModel):
    """Set several attribute values of one file, in one write."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="The file; %variables% are expanded on each server.")
    set: list[Setting] = Field(min_length=1)
    create: bool = Field(default=False, description="Add an element the XPath names when it is missing.")


def edit_all(spec: XmlAttributes, content: bytes, name: str) -> tuple[bytes, list[str]]:
    """The file with every setting applied, and what each did (for people)."""
    done = []
    for setting in spec.set:
        try:
            edit = xmledit.set_attribute(content, setting.xpath, setting.value, name)
            if edit.changed:
                done.append(f"{edit.before!r} -> {setting.value!r}")
        except RemediateError as error:
            if error.reference != "xpath-no-match" or not spec.create:
                raise
            edit = xmlinsert.add_element(content, setting.xpath, setting.value, name)
            done.append(f"added -> {setting.value!r}")
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
        """Put back each earlier value where it existed; refuse where this change added it."""
        for setting in spec.set:
            try:
                earlier = xmledit.locate(before, setting.xpath, "the earlier file").value
            except RemediateError:
                raise RemediateError(
                    "inverse-impossible",
                    "this change added an element that a later edit may rely on: it cannot be undone alone",
                    "restore the exact snapshot with --force",
                ) from None
            current = xmledit.set_attribute(current, setting.xpath, earlier, "the file").content
        return current


RESOURCE = XmlAttributesResource()
