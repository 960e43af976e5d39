"""What the XML resource kinds share: reading the file a step names."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from remediate.kinds.resources import Decision, Overlay, Reader, Writer
from remediate.support import xmledit
from remediate.support.errors import RemediateError


@dataclass(frozen=True)
class ObservedFile:
    path: str  # with %variables% expanded
    content: bytes

    @property
    def name(self) -> str:
        return self.path.rsplit("\\", 1)[-1]

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def observe_file(path: str, reader: Reader) -> ObservedFile:
    expanded = reader.expand(path)
    content = reader.read_file(expanded)
    if content is None:
        raise RemediateError(
            "file-missing",
            f"{expanded} does not exist",
            "check the path; on Exchange, is this a server with the Client Access (front end) role?",
        )
    return ObservedFile(expanded, content)


def check_xpath(value: str) -> str:
    """Compile an XPath now, so a playbook with a broken one fails validation, not a run."""
    from lxml import etree

    try:
        etree.XPath(value)
    except etree.XPathSyntaxError as error:
        raise ValueError(f"not a valid XPath: {error}") from None
    if "@" not in value.rsplit("/", 1)[-1]:
        raise ValueError("the XPath must select an attribute: end it with /@name")
    return value


def file_decision(observed: ObservedFile, edit: xmledit.Edit, summary: str) -> Decision:
    """The decision an edit of `observed` makes: the new bytes, and a diff when they differ."""
    return Decision(
        target=observed.path,
        changed=edit.changed,
        summary=summary,
        before=edit.before,
        after=edit.after,
        diff=xmledit.unified_diff(observed.content, edit.content, observed.name) if edit.changed else None,
        fingerprint=observed.digest,
        before_state=observed.content,
        after_state=edit.content,
    )


class FileTarget:
    """The write side the XML kinds share: a file's state is its exact bytes."""

    uses_exchange = False  # files are read and written through the server endpoint

    def state(self, spec: object, target: str, reader: Reader) -> bytes:
        content = reader.read_file(target)
        if content is None:
            raise RemediateError(
                "file-missing", f"{target} does not exist", "was it removed or renamed since?"
            )
        return content

    def same(self, spec: object, one: bytes, other: bytes) -> bool:
        return one == other

    def holds(self, spec: object, target: str, wanted: bytes, reader: Reader) -> bool:
        """Compared by SHA-256 on the server: the file's bytes do not travel."""
        return reader.file_hash(target) == hashlib.sha256(wanted).hexdigest()

    def write(self, spec: object, target: str, state: bytes, writer: Writer, tag: str) -> bool | None:
        return writer.replace_file(target, state, tag) == hashlib.sha256(state).hexdigest()

    def copy_source(self, spec: object, target: str) -> str | None:
        return target  # copied on the server: the bytes do not travel again

    def remember(self, spec: object, decision: Decision, overlay: Overlay) -> None:
        overlay.plan_file(decision.target, decision.after_state)

    def cleanup(self, spec: object, target: str, writer: Writer, tag: str) -> None:
        writer.remove_file(f"{target}.remediate-{tag}.tmp")
