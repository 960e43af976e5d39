"""text_replace: every occurrence of a literal text in a file becomes another, byte for byte.

    text_replace:
      path: '%ExchangeInstallPath%ClientAccess\\ecp\\web.config'
      find: '%ExchangeInstallDir%'
      replace: '%ExchangeInstallPath%'     # %variables% expanded with the server's values
      trim_end: '\\'                       # ...then this character taken off its end
      missing: ignore                      # a file this server does not have: nothing to do

A splice, not a rewrite: the bytes between occurrences are untouched (line endings, BOM,
comments, attribute order), the text is matched and written in the file's own encoding
(UTF-8, or UTF-16 when the file starts with its byte-order mark). `find` is literal: a
`%NAME%` in it is not expanded (that is what a failed update leaves behind).
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from remediate.kinds.resources import Decision, Reader, Scope
from remediate.kinds.resources.files import FileTarget, ObservedFile
from remediate.support import xmledit
from remediate.support.errors import RemediateError


class TextReplace(BaseModel):
    """Replace every occurrence of a literal text in a file."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="The file; %variables% are expanded on each server.")
    find: str = Field(min_length=1, description="The literal text to replace (not expanded).")
    replace: str = Field(description="What replaces it; %variables% are expanded on each server.")
    trim_end: str = Field(default="", description="Characters taken off the end of the expanded replacement.")
    missing: Literal["error", "ignore"] = Field(
        default="error", description="ignore: a server without the file has nothing to change."
    )


def _codec(content: bytes) -> tuple[str, bytes]:
    """The file's encoding (for matching and writing the texts) and its byte-order mark."""
    for bom, codec in ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if content.startswith(bom):
            return codec, bom
    return "utf-8", b""


def _spans(content: bytes, needle: bytes, start: int) -> list[int]:
    found, position = [], content.find(needle, start)
    while position >= 0:
        found.append(position)
        position = content.find(needle, position + len(needle))
    return found


def splice(content: bytes, find: str, replace: str) -> tuple[bytes, int]:
    """`content` with each `find` replaced by `replace` in the file's encoding; how many."""
    codec, bom = _codec(content)
    needle, new = find.encode(codec), replace.encode(codec)
    spans = _spans(content, needle, len(bom))
    if codec.startswith("utf-16"):  # a match must start on a character, not half-way through one
        spans = [s for s in spans if (s - len(bom)) % 2 == 0]
    pieces, last = [], 0
    for start in spans:
        pieces += [content[last:start], new]
        last = start + len(needle)
    return b"".join(pieces) + content[last:], len(spans)


class TextReplaceResource(FileTarget):
    kind = "text_replace"
    spec = TextReplace
    scopes: tuple[Scope, ...] = ("server",)

    def describe(self, spec: TextReplace) -> str:
        return f"replace {spec.find!r} with {spec.replace!r} in {spec.path}"

    def replacement(self, spec: TextReplace, reader: Reader) -> str:
        text = reader.expand(spec.replace)
        return text.rstrip(spec.trim_end) if spec.trim_end else text

    def observe(self, spec: TextReplace, reader: Reader) -> tuple[ObservedFile | None, str, str]:
        path = reader.expand(spec.path)
        content = reader.read_file(path)
        if content is None and spec.missing == "error":
            raise RemediateError("file-missing", f"{path} does not exist", "check the path")
        return (
            (ObservedFile(path, content) if content is not None else None),
            path,
            self.replacement(spec, reader),
        )

    def decide(self, spec: TextReplace, observed: tuple[ObservedFile | None, str, str]) -> Decision:
        found, path, replacement = observed
        if found is None:
            return Decision(target=path, changed=False, summary="no change (the file is not on this server)")
        if spec.find in replacement:
            raise RemediateError(
                "replace-invalid",
                f"{path}: the replacement {replacement!r} contains {spec.find!r}",
                "it would never be done: check the playbook's replace",
            )
        content, count = splice(found.content, spec.find, replacement)
        plural = "s" if count != 1 else ""
        return Decision(
            target=found.path,
            changed=count > 0,
            summary=f"replaces {count} occurrence{plural} of '{spec.find}' with '{replacement}'"
            if count
            else f"no change ('{spec.find}' not present)",
            before=count,
            after=0,
            diff=xmledit.unified_diff(found.content, content, found.name) if count else None,
            fingerprint=hashlib.sha256(found.content).hexdigest(),
            before_state=found.content,
            after_state=content,
        )

    def inverse(self, spec: TextReplace, before: bytes, after: bytes, current: bytes) -> bytes:
        """Put the text back where this change replaced it, if the file still has the
        replacement at exactly those places; else refuse (a later edit moved them)."""
        codec, bom = _codec(before)
        needle = spec.find.encode(codec)
        spans = _spans(before, needle, len(bom))
        if not spans:
            return current
        # the replacement's bytes, as written: what `after` holds where the first match was
        grown = (len(after) - len(before)) // len(spans)
        new = after[spans[0] : spans[0] + len(needle) + grown]
        shifted = [start + index * grown for index, start in enumerate(spans)]
        if len(current) != len(after) or any(current[s : s + len(new)] != new for s in shifted):
            raise RemediateError(
                "inverse-impossible",
                "the file changed where this change replaced the text: it cannot be undone alone",
                "restore the exact snapshot with --force, or edit the file by hand",
            )
        pieces, last = [], 0
        for start in shifted:
            pieces += [current[last:start], needle]
            last = start + len(new)
        return b"".join(pieces) + current[last:]


RESOURCE = TextReplaceResource()
