"""PowerShell errors and .NET objects as the simulated server sends them.

`PSError` is an error a simulated cmdlet raises (terminating) or writes (non-terminating);
`error_record` turns it into the ErrorRecord Windows PowerShell would serialize. The object
builders produce psrpcore objects with the type names and adapted properties that real
cmdlets emit, so a client sees the same shapes it would see from Windows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from psrpcore.types import (
    CommandOrigin,
    CommandTypes,
    ErrorCategory,
    ErrorCategoryInfo,
    ErrorRecord,
    InvocationInfo,
    NETException,
    PSCustomObject,
    PSDateTime,
    PSDict,
    PSEnumBase,
    PSFlagBase,
    PSList,
    PSListBase,
    PSNoteProperty,
    PSObject,
    PSType,
    SessionStateEntryVisibility,
)

_EXCEPTION_BASES = {
    "System.Management.Automation.ItemNotFoundException": (
        "System.Management.Automation.SessionStateException",
        "System.Management.Automation.RuntimeException",
        "System.SystemException",
    ),
    "System.Management.Automation.DriveNotFoundException": (
        "System.Management.Automation.SessionStateException",
        "System.Management.Automation.RuntimeException",
        "System.SystemException",
    ),
    "System.Management.Automation.CommandNotFoundException": (
        "System.Management.Automation.RuntimeException",
        "System.SystemException",
    ),
    "System.Management.Automation.ParameterBindingException": (
        "System.Management.Automation.RuntimeException",
        "System.SystemException",
    ),
    "System.Management.Automation.ParseException": (
        "System.Management.Automation.RuntimeException",
        "System.SystemException",
    ),
    "System.UnauthorizedAccessException": ("System.SystemException",),
    "System.IO.IOException": ("System.SystemException",),
    "System.IO.DirectoryNotFoundException": ("System.IO.IOException", "System.SystemException"),
    "System.ArgumentException": ("System.SystemException",),
    "System.InvalidOperationException": ("System.SystemException",),
}


@dataclass
class PSError(Exception):
    """An error as PowerShell reports it.

    `error_id` is the first half of the FullyQualifiedErrorId; the engine appends the
    command's identity (`PathNotFound` becomes `PathNotFound,Microsoft.PowerShell.Commands.GetContentCommand`)
    unless `qualified` says the id is complete already.
    """

    message: str
    error_id: str
    category: str = "NotSpecified"
    exception: str = "System.InvalidOperationException"
    target: Any = None
    terminating: bool = False
    qualified: bool = False
    activity: str | None = None
    extra_type_names: tuple[str, ...] = field(default_factory=tuple)
    # made terminating by -ErrorAction Stop (PowerShell's ActionPreferenceStopException): it
    # also stops the statements after it in a batch, where another terminating error does not
    preference_stop: bool = False

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    @property
    def reason(self) -> str:
        return self.exception.rsplit(".", 1)[-1]

    def fully_qualified(self, command_id: str) -> str:
        return self.error_id if self.qualified or not command_id else f"{self.error_id},{command_id}"


def not_simulated(message: str, error_id: str, target: Any = None, *, terminating: bool = False) -> PSError:
    """Something Windows would do that the simulator does not (never a Windows wording)."""
    return PSError(
        message,
        error_id,
        category="NotImplemented",
        exception="System.NotSupportedException",
        target=target,
        terminating=terminating,
        qualified=terminating,
        activity=None if not terminating else "",
    )


class _CategoryInfo(ErrorCategoryInfo):
    """ErrorCategoryInfo whose text matches Windows PowerShell: `ObjectNotFound: (x:String) [Get-Content], ...`."""

    def __str__(self) -> str:
        return (
            f"{self.Category.name}: ({self.TargetName or ''}:{self.TargetType or ''}) "
            f"[{self.Activity or ''}], {self.Reason or ''}"
        )


def _exception(error: PSError) -> NETException:
    exception = NETException(Message=error.message, HResult=-2146233087)
    names = [error.exception, *error.extra_type_names, *_EXCEPTION_BASES.get(error.exception, ())]
    names += [name for name in ("System.Exception", "System.Object") if name not in names]
    exception.PSObject.type_names = names
    return exception


def _target_type(target: Any) -> str:
    if target is None:
        return ""
    if isinstance(target, str):
        return "String"
    return type(target).__name__


def error_record(
    error: PSError, command: str, command_id: str, position: int = 1, length: int = 1
) -> ErrorRecord:
    """The ErrorRecord Windows PowerShell would serialize for `error` raised by `command`."""
    activity = error.activity if error.activity is not None else command
    target_name = "" if error.target is None else str(error.target)
    category = _CategoryInfo(
        Category=ErrorCategory[error.category],
        Activity=activity,
        Reason=error.reason,
        TargetName=target_name,
        TargetType=_target_type(error.target),
    )
    invocation = None
    if command:
        invocation = InvocationInfo(
            BoundParameters=PSDict(),
            CommandOrigin=CommandOrigin.Runspace,
            ExpectingInput=False,
            HistoryId=1,
            InvocationName=command,
            Line="",
            MyCommand=PSCustomObject(
                CommandType=CommandTypes.Cmdlet,
                Name=command,
                Definition="",
                Visibility=SessionStateEntryVisibility.Public,
            ),
            OffsetInLine=0,
            PipelineLength=length,
            PipelinePosition=position,
            PositionMessage="",
            PSCommandPath=None,
            PSScriptRoot=None,
            ScriptLineNumber=0,
            ScriptName="",
            UnboundArguments=PSList(),
        )
    record = ErrorRecord(
        Exception=_exception(error),
        CategoryInfo=category,
        TargetObject=error.target,
        FullyQualifiedErrorId=error.fully_qualified(command_id),
        InvocationInfo=invocation,
        PipelineIterationInfo=[0, 1],
    )
    record.serialize_extended_info = invocation is not None
    return record


# -- objects ---------------------------------------------------------------------------------


def dotnet_object(
    type_names: list[str],
    adapted: dict[str, Any] | None = None,
    extended: dict[str, Any] | None = None,
    to_string: str | None = None,
) -> PSObject:
    """A .NET object with adapted (native) and extended (ETS) properties."""
    obj = PSObject()
    names = list(type_names)
    if names[-1] != "System.Object":
        names.append("System.Object")
    obj.PSObject.type_names = names
    for name, value in (adapted or {}).items():
        obj.PSObject.adapted_properties.append(PSNoteProperty(name, value))
    for name, value in (extended or {}).items():
        obj.PSObject.extended_properties.append(PSNoteProperty(name, value))
    if to_string is not None:
        obj.PSObject.to_string = to_string
    return obj


def custom_object(type_names: list[str] | None = None, **properties: Any) -> PSObject:
    """A PSCustomObject (what `[pscustomobject]@{...}` and many script cmdlets emit)."""
    obj = PSObject()
    obj.PSObject.type_names = [
        *(type_names or []),
        "System.Management.Automation.PSCustomObject",
        "System.Object",
    ]
    for name, value in properties.items():
        obj.PSObject.extended_properties.append(PSNoteProperty(name, value))
    return obj


@PSType(["System.ServiceProcess.ServiceControllerStatus"], rehydrate=False)
class ServiceControllerStatus(PSEnumBase):
    Stopped = 1
    StartPending = 2
    StopPending = 3
    Running = 4
    ContinuePending = 5
    PausePending = 6
    Paused = 7


@PSType(["System.ServiceProcess.ServiceStartMode"], rehydrate=False)
class ServiceStartMode(PSEnumBase):
    Boot = 0
    System = 1
    Automatic = 2
    Manual = 3
    Disabled = 4


@PSType(["Microsoft.Exchange.Data.Directory.SystemConfiguration.SupportedAccountType"], rehydrate=False)
class SupportedAccountType(PSEnumBase):
    ConsumerAccount = 0
    OrganizationalAccount = 1


@PSType(["Microsoft.Exchange.Data.Directory.ObjectState"], rehydrate=False)
class ObjectState(PSEnumBase):
    New = 0
    Unchanged = 1
    Changed = 2
    Deleted = 3


@PSType(["Microsoft.Exchange.Data.Directory.SystemConfiguration.ServerRole"], rehydrate=False)
class ServerRole(PSEnumBase):  # values as Exchange 2019 reports them; not all verified
    NONE = 0
    Mailbox = 2
    Edge = 64


@PSType(["System.IO.FileAttributes"], rehydrate=False)
class FileAttributes(PSFlagBase):
    ReadOnly = 1
    Hidden = 2
    Directory = 16
    Archive = 32


@PSType(["System.Object[]", "System.Array", "System.Object"], skip_inheritance=True, rehydrate=False)
class ObjectArray(PSListBase):
    """A System.Object[]: what an ArrayList's ToArray() gives (Get-Content's blocks)."""


@PSType(["System.String[]", "System.Array", "System.Object"], skip_inheritance=True, rehydrate=False)
class StringArray(PSListBase):
    """A System.String[] (pypsrp hands it back as a Python list)."""


@PSType(
    [
        "Microsoft.Exchange.Data.MultiValuedProperty`1[[System.String, mscorlib, Version=4.0.0.0, "
        "Culture=neutral, PublicKeyToken=b77a5c561934e089]]",
        "Microsoft.Exchange.Data.MultiValuedPropertyBase",
        "System.Object",
    ],
    skip_inheritance=True,
    rehydrate=False,
)
class MultiValuedString(PSListBase):
    """Exchange's MultiValuedProperty<string> (pypsrp 0.9 hands it back unparsed)."""


def date_time(iso: str) -> PSDateTime:
    parsed = dt.datetime.fromisoformat(iso)
    return PSDateTime(
        parsed.year,
        parsed.month,
        parsed.day,
        parsed.hour,
        parsed.minute,
        parsed.second,
        parsed.microsecond,
        tzinfo=parsed.tzinfo,
    )
