"""File system security descriptors, as SDDL: the few a simulated server starts with, and
how a new file or folder inherits from its parent.

Windows keeps a descriptor on every file and folder. The simulator keeps an explicit one only
where one was set (the seeded folders below, or `Set-Acl`); everything else inherits from its
nearest ancestor that has one, as NTFS computes it at creation: each inheritable ACE of the
parent is copied to the child marked inherited (ID), container-inherit ACEs (CI) to folders,
object-inherit ACEs (OI) to files; an inherit-only ACE (IO) does not apply to the folder
that carries it; CREATOR OWNER (CO) becomes the creating account's owner, Administrators
(objects an administrator creates are owned by BUILTIN\\Administrators).

The seeded descriptors are belief (no capture of a real server's ACLs is at hand): the
documented shape of `C:\\ProgramData` (SYSTEM, Administrators and CREATOR OWNER full
control; Users read and create) and of `C:\\Windows\\System32\\config` (SYSTEM and
Administrators only, protected). docs/fidelity.md lists them.
"""

from __future__ import annotations

import re

# Rights: FA full access, GA generic all, 0x1200a9 read and execute, 0x100116 create
# files/folders and write attributes (Users on ProgramData: "special" create rights).
SEEDED = {
    "C:\\": "O:S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464G:SYD:PAI(A;OICI;FA;;;SY)"
    "(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)(A;CI;LC;;;BU)(A;CIIO;DC;;;BU)(A;OICIIO;GA;;;CO)",
    "C:\\ProgramData": "O:SYG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICIIO;GA;;;CO)"
    "(A;OICI;0x1200a9;;;BU)(A;CI;0x100116;;;BU)",
    "C:\\Windows\\System32\\config": "O:SYG:SYD:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICIIO;GA;;;CO)",
}
CREATOR_OWNER = "BA"  # the owner of what an administrator creates
_ACE = re.compile(r"\(([^;()]*);([^;()]*);([^;()]*);([^;()]*);([^;()]*);([^;()]*)\)")


def _parts(sddl: str) -> tuple[str, str, str, list[tuple[str, ...]]]:
    """(owner, group, DACL flags, ACEs) of an SDDL string."""
    owner = re.search(r"O:([^:]+?)(?=G:|D:|S:|$)", sddl)
    group = re.search(r"G:([^:]+?)(?=D:|S:|$)", sddl)
    dacl = re.search(r"D:([A-Z]*)((?:\([^()]*\))*)", sddl)
    aces = [tuple(m.groups()) for m in _ACE.finditer(dacl.group(2))] if dacl else []
    return (
        owner.group(1) if owner else "",
        group.group(1) if group else "",
        dacl.group(1) if dacl else "",
        aces,
    )


def _flags(text: str) -> list[str]:
    return [text[i : i + 2] for i in range(0, len(text), 2)]


def inherited(parent_sddl: str, is_dir: bool) -> str:
    """The descriptor NTFS gives a new item created (by an administrator) in a folder with
    `parent_sddl`."""
    _, _, _, aces = _parts(parent_sddl)
    result = []
    for kind, flags, rights, object_guid, inherit_guid, sid in aces:
        own = _flags(flags)
        if "ID" in own:
            own.remove("ID")
        applies = ("CI" in own) if is_dir else ("OI" in own)
        if not applies:
            continue
        propagate = is_dir and "NP" not in own
        if sid == "CO":
            # on the new item: an ACE for its owner; on a folder the CO ACE stays, inherit-only
            result.append((kind, "ID", rights, object_guid, inherit_guid, CREATOR_OWNER))
            if propagate:
                keep = [f for f in own if f in ("OI", "CI")]
                result.append((kind, "".join(keep) + "IOID", rights, object_guid, inherit_guid, sid))
            continue
        keep = [f for f in own if f in ("OI", "CI")] if propagate else []
        result.append((kind, "".join(keep) + "ID", rights, object_guid, inherit_guid, sid))
    body = "".join("(" + ";".join(ace) + ")" for ace in result)
    return f"O:{CREATOR_OWNER}G:SYD:AI{body}"


def access_lines(sddl: str) -> list[str]:
    """The DACL's ACEs, one per line, as `(type;flags;rights;;;sid)` (for Access/AccessToString)."""
    _, _, _, aces = _parts(sddl)
    return ["(" + ";".join(ace) + ")" for ace in aces]


def owner_of(sddl: str) -> str:
    return _parts(sddl)[0]


def group_of(sddl: str) -> str:
    return _parts(sddl)[1]


def protected(sddl: str) -> bool:
    return "P" in _parts(sddl)[2].replace("AI", "").replace("AR", "")
