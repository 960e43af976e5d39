"""Get-Acl and Set-Acl on the file system (Microsoft.PowerShell.Security, 5.1).

Set-Acl needs a live `ObjectSecurity` (SetAclCommand: `_securityDescriptor as ObjectSecurity`,
else the terminating `SetAcl_AclObject`), which a client cannot send: a deserialized
descriptor is a property bag. remediate pipes one on the server instead:
`Get-Acl -LiteralPath <source> | Set-Acl -LiteralPath <folder>`. The simulator's Get-Acl
objects carry their descriptor for the Set-Acl after them in the same pipeline
(`sim_sddl`), and go to the client in the shape 5.1 serializes them.

Set-Acl copies the whole descriptor, owner included: FileSystemProvider.SetSecurityDescriptor
enables SeRestorePrivilege around the write (present since the first open-source import of
the Windows PowerShell code), so an administrator may set an owner other than itself.
"""

from __future__ import annotations

from typing import Any

from remediate.sim import acl
from remediate.sim.cmdlets.common import LITERAL_PATH, PATH, fs_extended, path_not_found, resolve_items
from remediate.sim.engine import Call, Cmdlet, Param
from remediate.sim.records import PSError, dotnet_object, not_simulated
from remediate.sim.winpath import PROVIDER_PATH_PREFIX

ACCOUNTS = {
    "SY": "NT AUTHORITY\\SYSTEM",
    "BA": "BUILTIN\\Administrators",
    "BU": "BUILTIN\\Users",
    "CO": "CREATOR OWNER",
    "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464": "NT SERVICE\\TrustedInstaller",
}
_SECURITY_TYPES = [
    "System.Security.AccessControl.FileSystemSecurity",
    "System.Security.AccessControl.NativeObjectSecurity",
    "System.Security.AccessControl.CommonObjectSecurity",
    "System.Security.AccessControl.ObjectSecurity",
]


def _account(sid: str) -> str:
    return ACCOUNTS.get(sid, sid)


def security_object(display: str, is_dir: bool, sddl: str, path: Any) -> Any:
    """What Get-Acl writes: the descriptor, its adapted properties, the provider's notes, and the
    Security.types.ps1xml members (Path, Owner, Group, Access, Sddl, AccessToString, AuditToString)."""
    kind = "DirectorySecurity" if is_dir else "FileSecurity"
    rules = acl.access_lines(sddl)
    extended = {
        **{k: v for k, v in fs_extended(path, display, is_dir).items() if k.startswith("PS")},
        "Path": PROVIDER_PATH_PREFIX["FileSystem"] + display,
        "Owner": _account(acl.owner_of(sddl)),
        "Group": _account(acl.group_of(sddl)),
        # a collection at the serialization depth limit: each rule goes as its type name
        "Access": ["System.Security.AccessControl.FileSystemAccessRule" for _ in rules],
        "Sddl": sddl,
        "AccessToString": "\n".join(rules),
        "AuditToString": "",
    }
    adapted = {
        "AccessRightType": "System.Security.AccessControl.FileSystemRights",
        "AccessRuleType": "System.Security.AccessControl.FileSystemAccessRule",
        "AuditRuleType": "System.Security.AccessControl.FileSystemAuditRule",
        "AreAccessRulesProtected": acl.protected(sddl),
        "AreAuditRulesProtected": False,
        "AreAccessRulesCanonical": True,
        "AreAuditRulesCanonical": True,
    }
    obj = dotnet_object(
        [f"System.Security.AccessControl.{kind}", *_SECURITY_TYPES],
        adapted,
        extended,
        to_string=f"System.Security.AccessControl.{kind}",
    )
    obj.sim_sddl = sddl  # the live descriptor, for a Set-Acl later in the same pipeline
    return obj


def _get_acl(call: Call) -> None:
    state = call.machine.state
    for path in resolve_items(call):
        if path.provider != "FileSystem":
            raise not_simulated(
                "The remediate simulator reads file system descriptors only.",
                "AclNotSimulated",
                terminating=True,
            )
        with state.lock:
            display = state.display(path)
            is_dir = path.is_root or state.is_dir(path)
            sddl = state.security(path)
        call.output(security_object(display, is_dir, sddl, path))


def _set_acl(call: Call) -> None:
    given = call.get("AclObject")
    descriptors = [given] if given is not None else list(call.input)
    if not descriptors:
        raise PSError(
            "Cannot process command because of one or more missing mandatory parameters: AclObject.",
            "MissingMandatoryParameter",
            category="InvalidArgument",
            exception="System.Management.Automation.ParameterBindingException",
        )
    state = call.machine.state
    for descriptor in descriptors:
        sddl = getattr(descriptor, "sim_sddl", None)
        if sddl is None:
            # SetAclCommand.ProcessRecord: not an ObjectSecurity (a deserialized one, a string):
            # WriteError(new ArgumentException("AclObject"), "SetAcl_AclObject", InvalidArgument)
            call.error(
                PSError(
                    "AclObject",
                    "SetAcl_AclObject",
                    category="InvalidArgument",
                    exception="System.ArgumentException",
                )
            )
            continue
        for path in resolve_items(call):
            with state.lock:
                if not state.exists(path):
                    call.error(path_not_found(path.text))
                    continue
                state.set_security(path, sddl)


COMMON_ACL = (Param("Filter", "string"), Param("Include", "strings"), Param("Exclude", "strings"))
CMDLETS = (
    Cmdlet(
        "Get-Acl",
        "Microsoft.PowerShell.Commands.GetAclCommand",
        (
            PATH,
            LITERAL_PATH,
            Param("InputObject", "object"),
            Param("Audit", "switch"),
            Param("AllCentralAccessPolicies", "switch"),
            *COMMON_ACL,
        ),
        _get_acl,
        exclusive=(("Path", "LiteralPath", "InputObject"),),
    ),
    Cmdlet(
        "Set-Acl",
        "Microsoft.PowerShell.Commands.SetAclCommand",
        (
            PATH,
            LITERAL_PATH,
            Param("InputObject", "object"),
            Param("AclObject", "object", position=1),  # mandatory; ValueFromPipeline
            Param("CentralAccessPolicy", "string"),
            Param("ClearCentralAccessPolicy", "switch"),
            Param("Passthru", "switch"),
            *COMMON_ACL,
        ),
        _set_acl,
        should_process=True,
        exclusive=(("Path", "LiteralPath", "InputObject"),),
        one_of=(("Path", "LiteralPath", "InputObject"),),
    ),
)
