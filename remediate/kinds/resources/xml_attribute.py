"""xml_attribute: an attribute, selected by XPath, holds a given value.

xml_attribute:
  path: '%ExchangeInstallPath%FrontEnd\\HttpProxy\\rest\\web.config'
  xpath: /configuration/appSettings/add[@key='OAuthHttpModule.V1AppScopes']/@value
  value: '*'
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from remediate.kinds.resources import Decision, Reader, Scope
from remediate.kinds.resources.files import FileTarget, ObservedFile, check_xpath, file_decision, observe_file
from remediate.support import xmledit


class XmlAttribute(BaseModel):
    """Set an attribute value selected by XPath."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(
        description="The file; %ExchangeInstallPath% and other %variables% are expanded on each server."
    )
    xpath: str = Field(description="Selects exactly one attribute.")
    value: str

    _xpath = field_validator("xpath")(check_xpath)


class XmlAttributeResource(FileTarget):
    kind = "xml_attribute"
    spec = XmlAttribute
    scopes: tuple[Scope, ...] = ("server",)

    def describe(self, spec: XmlAttribute) -> str:
        return f"set {spec.xpath} to {spec.value!r} in {spec.path}"

    def observe(self, spec: XmlAttribute, reader: Reader) -> ObservedFile:
        return observe_file(spec.path, reader)

    def decide(self, spec: XmlAttribute, observed: ObservedFile) -> Decision:
        edit = xmledit.set_attribute(observed.content, spec.xpath, spec.value, observed.path)
        return file_decision(
            observed,
            edit,
            f"sets {edit.before!r} -> {edit.after!r}"
            if edit.changed
            else f"no change (already {spec.value!r})",
        )

    def inverse(self, spec: XmlAttribute, before: bytes, after: bytes, current: bytes) -> bytes:
        """Put back the attribute's earlier value, leaving the rest of the current file alone."""
        earlier = xmledit.locate(before, spec.xpath, "the earlier file").value
        return xmledit.set_attribute(current, spec.xpath, earlier, "the file").content


RESOURCE = XmlAttributeResource()
