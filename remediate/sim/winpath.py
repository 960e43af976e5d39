"""Windows PowerShell paths as the simulated server understands them.

Three providers exist on a simulated server: FileSystem (`C:\\...`), Environment
(`Env:\\Name`) and Registry (`HKLM:\\...`). Paths are case-insensitive and keep the case
they were created with for display, as on Windows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Provider = Literal["FileSystem", "Environment", "Registry"]

PROVIDER_PATH_PREFIX = {
    "FileSystem": "Microsoft.PowerShell.Core\\FileSystem::",
    "Environment": "Microsoft.PowerShell.Core\\Environment::",
    "Registry": "Microsoft.PowerShell.Core\\Registry::",
}
_QUALIFIED = re.compile(r"^(?:Microsoft\.PowerShell\.Core\\)?(FileSystem|Environment|Registry)::(.*)$", re.I)
_DRIVE = re.compile(r"^([A-Za-z][A-Za-z0-9]*):(.*)$", re.S)
_ILLEGAL_FS_CHARS = re.compile(r'[<>"|\x00-\x1f]')
_WILDCARD_CHARS = re.compile(r"(?<!`)[*?\[]")
HIVES = {"HKLM": "HKEY_LOCAL_MACHINE", "HKEY_LOCAL_MACHINE": "HKEY_LOCAL_MACHINE"}
DEFAULT_LOCATION = "C:\\Users\\Administrator\\Documents"


class IllegalPath(ValueError):
    """The path has characters Windows refuses ("Illegal characters in path.")."""


class UnknownDrive(ValueError):
    def __init__(self, drive: str) -> None:
        super().__init__(drive)
        self.drive = drive


@dataclass(frozen=True)
class WinPath:
    provider: Provider
    text: str  # display form: C:\Program Files\x, Env:\Name, HKLM:\SOFTWARE\x

    @property
    def key(self) -> str:
        return self.text.lower()

    @property
    def name(self) -> str:
        return self.text.rstrip("\\").rsplit("\\", 1)[-1]

    @property
    def parent(self) -> WinPath | None:
        head, sep, _ = self.text.rstrip("\\").rpartition("\\")
        if not sep:
            return None
        if head.endswith(":"):
            head += "\\"
        return WinPath(self.provider, head)

    @property
    def is_root(self) -> bool:
        return self.text.endswith(":\\")

    @property
    def ps_path(self) -> str:
        if self.provider == "Registry":
            hive, _, rest = self.text.partition(":\\")
            native = HIVES.get(hive.upper(), hive) + ("\\" + rest if rest else "")
            return PROVIDER_PATH_PREFIX["Registry"] + native
        return PROVIDER_PATH_PREFIX[self.provider] + self.text

    def child(self, name: str) -> WinPath:
        base = self.text if self.text.endswith("\\") else self.text + "\\"
        return WinPath(self.provider, base + name)


def has_wildcards(path: str) -> bool:
    return bool(_WILDCARD_CHARS.search(path))


def unescape(path: str) -> str:
    """Remove PowerShell wildcard escapes (`*, `?, `[, `]) from a -Path value."""
    return re.sub(r"`(.)", r"\1", path)


def wildcard_regex(pattern: str) -> re.Pattern[str]:
    """PowerShell wildcard (*, ?, [set], backtick escape) to a case-insensitive regex."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "`" and index + 1 < len(pattern):
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        if char == "*":
            out.append(r"[^\\]*")
        elif char == "?":
            out.append(r"[^\\]")
        elif char == "[":
            end = pattern.find("]", index + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                out.append("[" + re.escape(pattern[index + 1 : end]).replace(r"\-", "-") + "]")
                index = end
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("^" + "".join(out) + "$", re.IGNORECASE | re.DOTALL)


def parse(raw: str, drives: frozenset[str] = frozenset({"C"}), location: str = DEFAULT_LOCATION) -> WinPath:
    """Parse a path as PowerShell would, relative to `location` when not rooted."""
    path = raw.strip().replace("/", "\\")
    if path.startswith("\\\\?\\"):
        path = path[4:]
    qualified = _QUALIFIED.match(path)
    if qualified:
        provider_name, rest = qualified.group(1).lower(), qualified.group(2)
        if provider_name == "registry":
            for native, short in (("HKEY_LOCAL_MACHINE", "HKLM"),):
                if rest.upper().startswith(native):
                    rest = short + ":" + rest[len(native) :]
        elif provider_name == "environment":
            rest = "Env:" + rest
        path = rest
    drive = _DRIVE.match(path)
    if drive is None:
        if path.startswith("\\"):
            path = location[:2] + path
        else:
            path = location.rstrip("\\") + "\\" + path
        drive = _DRIVE.match(path)
        assert drive is not None
    name, rest = drive.group(1), drive.group(2)
    upper = name.upper()
    if upper == "ENV":
        variable = rest.lstrip("\\")
        return WinPath("Environment", "Env:\\" + variable if variable else "Env:\\")
    if upper == "HKLM":
        return WinPath("Registry", "HKLM:\\" + _normalise(rest))
    if len(name) == 1 and upper in drives:
        if _ILLEGAL_FS_CHARS.search(rest) or ":" in rest:
            raise IllegalPath(raw)
        return WinPath("FileSystem", upper + ":\\" + _normalise(rest))
    raise UnknownDrive(name)


def _normalise(rest: str) -> str:
    parts: list[str] = []
    for part in rest.split("\\"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        # Windows ignores trailing dots and spaces in names.
        parts.append(part.rstrip(" .") or part)
    return "\\".join(parts)
