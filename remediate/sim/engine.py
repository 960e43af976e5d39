"""Run a PSRP pipeline the way Windows PowerShell would: resolve, bind, run, report.

The engine knows nothing of WS-Management. It gets the commands of a pipeline (as the
client sent them) and a session (which endpoint, which snap-ins), and runs them against a
`Machine` (the simulated server). Binding follows PowerShell's rules closely enough for a
client to meet the real errors: unambiguous prefixes, aliases, common parameters, positional
arguments, type conversion, mandatory parameters.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from remediate.sim.records import PSError, not_simulated
from remediate.sim.winpath import DEFAULT_LOCATION

if TYPE_CHECKING:
    from remediate.sim.machine import Machine

SERVER_CONFIGURATION = "Microsoft.PowerShell"
EXCHANGE_CONFIGURATION = "Microsoft.Exchange"
EXCHANGE_SNAPIN = "Microsoft.Exchange.Management.PowerShell.SnapIn"

Kind = Literal["string", "strings", "bool", "switch", "int", "enum", "enums", "object", "objects"]


@dataclass(frozen=True)
class Param:
    name: str
    kind: Kind = "string"
    aliases: tuple[str, ...] = ()
    position: int | None = None
    mandatory: bool = False
    choices: tuple[str, ...] = ()  # enum members
    type_name: str = ""  # .NET type named in conversion errors


@dataclass(frozen=True)
class Cmdlet:
    name: str
    command_id: str  # second half of FullyQualifiedErrorId: the cmdlet's .NET class
    params: tuple[Param, ...]
    run: Callable[[Call], None]
    source: Literal["core", "webadministration", "exchange"] = "core"
    should_process: bool = False
    exclusive: tuple[tuple[str, ...], ...] = ()  # parameters from different parameter sets
    one_of: tuple[tuple[str, ...], ...] = ()  # at least one of these (first is the mandatory one)


_ERROR_ACTIONS = ("SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore", "Suspend")
COMMON_PARAMS: tuple[Param, ...] = (
    Param("Verbose", "switch", ("vb",)),
    Param("Debug", "switch", ("db",)),
    Param(
        "ErrorAction",
        "enum",
        ("ea",),
        choices=_ERROR_ACTIONS,
        type_name="System.Management.Automation.ActionPreference",
    ),
    Param(
        "WarningAction",
        "enum",
        ("wa",),
        choices=_ERROR_ACTIONS,
        type_name="System.Management.Automation.ActionPreference",
    ),
    Param(
        "InformationAction",
        "enum",
        ("infa",),
        choices=_ERROR_ACTIONS,
        type_name="System.Management.Automation.ActionPreference",
    ),
    Param("ErrorVariable", "string", ("ev",)),
    Param("WarningVariable", "string", ("wv",)),
    Param("InformationVariable", "string", ("iv",)),
    Param("OutVariable", "string", ("ov",)),
    Param("OutBuffer", "int", ("ob",)),
    Param("PipelineVariable", "string", ("pv",)),
)
SHOULD_PROCESS_PARAMS: tuple[Param, ...] = (
    Param("WhatIf", "switch", ("wi",)),
    Param("Confirm", "switch", ("cf",)),
)


@dataclass
class Session:
    """What one runspace pool remembers between pipelines."""

    configuration: str
    user: str
    snapins: set[str] = field(default_factory=set)
    # the logon can reach Active Directory as the user (the second hop): CredSSP, or a
    # delegated Kerberos ticket. The Exchange snap-in needs it; the Exchange endpoint does not
    # (its cmdlets run in Exchange's own process, which reaches AD as the server)
    delegated: bool = False
    location: str = DEFAULT_LOCATION

    @property
    def no_language(self) -> bool:
        return self.configuration == EXCHANGE_CONFIGURATION


@dataclass
class Command:
    """One command of a pipeline as the client sent it."""

    text: str
    is_script: bool
    arguments: list[tuple[str | None, Any]]
    end_of_statement: bool = False


class Stop(Exception):
    """The pipeline was stopped by the client."""


@dataclass
class Call:
    """One cmdlet invocation: bound parameters, input, and the streams it writes to."""

    cmdlet: Cmdlet
    params: dict[str, Any]
    input: list[Any]
    machine: Machine
    session: Session
    output: Callable[[Any], None]
    write_error: Callable[[PSError], None]
    warning: Callable[[str], None]
    cancelled: threading.Event
    # Called by a cmdlet that works in two steps (Move-Item -Force onto an existing file),
    # between them: where a fault can stop it half-way.
    midway: Callable[[], None] = lambda: None

    def given(self, name: str) -> bool:
        return name in self.params

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    def error(self, error: PSError) -> None:
        """Write a non-terminating error, honouring -ErrorAction."""
        action = self.params.get("ErrorAction", "Continue")
        if action == "Stop":
            error.terminating = True
            error.preference_stop = True
            raise error
        if action in ("SilentlyContinue", "Ignore"):
            return
        self.write_error(error)

    def sleep(self, seconds: float) -> None:
        """Wait, unless the client stops the pipeline or the simulator shuts down."""
        if self.cancelled.wait(seconds):
            raise Stop()


# -- resolution ------------------------------------------------------------------------------


def command_not_found(name: str) -> PSError:
    return PSError(
        f"The term '{name}' is not recognized as the name of a cmdlet, function, script file, or operable "
        "program. Check the spelling of the name, or if a path was included, verify that the path is correct "
        "and try again.",
        "CommandNotFoundException",
        category="ObjectNotFound",
        exception="System.Management.Automation.CommandNotFoundException",
        target=name,
        terminating=True,
        qualified=True,
        activity="",
    )


@dataclass(frozen=True)
class Resolved:
    cmdlet: Cmdlet
    params: tuple[Param, ...]
    command_id: str  # what FullyQualifiedErrorIds end with in this session


def resolve(name: str, session: Session, machine: Machine, registry: dict[str, Cmdlet]) -> Resolved:
    cmdlet = registry.get(name.lower())
    if cmdlet is None:
        raise command_not_found(name)
    extra = SHOULD_PROCESS_PARAMS if cmdlet.should_process else ()
    if session.configuration == EXCHANGE_CONFIGURATION:
        # The Exchange endpoint exposes only what role entries grant, as proxy functions.
        granted = machine.granted_parameters(cmdlet.name)
        if cmdlet.source != "exchange" or granted is None:
            raise command_not_found(name)
        allowed = {p.lower() for p in granted}
        params = tuple(p for p in (*cmdlet.params, *extra) if p.name.lower() in allowed)
        return Resolved(cmdlet, params + COMMON_PARAMS, cmdlet.name)
    if cmdlet.source == "exchange" and EXCHANGE_SNAPIN.lower() not in session.snapins:
        raise command_not_found(name)
    return Resolved(cmdlet, cmdlet.params + extra + COMMON_PARAMS, cmdlet.command_id)


# -- binding ---------------------------------------------------------------------------------


def _binding_error(message: str, error_id: str, command_id: str, target: Any = None) -> PSError:
    return PSError(
        message,
        f"{error_id},{command_id}",
        category="InvalidArgument",
        exception="System.Management.Automation.ParameterBindingException",
        target=target,
        terminating=True,
        qualified=True,
    )


def _match(name: str, params: Iterable[Param], command_id: str) -> Param:
    wanted = name.lower()
    exact = [p for p in params if p.name.lower() == wanted or wanted in (a.lower() for a in p.aliases)]
    if exact:
        return exact[0]
    prefixed = [p for p in params if p.name.lower().startswith(wanted)]
    if len(prefixed) == 1:
        return prefixed[0]
    if prefixed:
        options = " ".join(f"-{p.name}" for p in prefixed)
        raise _binding_error(
            f"Parameter cannot be processed because the parameter name '{name}' is ambiguous. "
            f"Possible matches include: {options}.",
            "AmbiguousParameter",
            command_id,
        )
    raise _binding_error(
        f"A parameter cannot be found that matches parameter name '{name}'.",
        "NamedParameterNotFound",
        command_id,
    )


def _describe(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "System.Object[]"
    if isinstance(value, bool):
        return str(value)
    return str(value)


def _conversion_error(param: Param, value: Any, command_id: str, detail: str) -> PSError:
    return _binding_error(
        f"Cannot bind parameter '{param.name}'. Cannot convert value \"{_describe(value)}\" to type "
        f'"{param.type_name or "System.String"}". Error: "{detail}"',
        "CannotConvertArgumentNoMessage",
        command_id,
    )


def _bool_error(param: Param, shown: str, command_id: str) -> PSError:
    return _binding_error(
        f"Cannot process argument transformation on parameter '{param.name}'. Cannot convert value "
        f'"{shown}" to type "System.Boolean". Boolean parameters accept only Boolean values and numbers, '
        "such as $True, $False, 1 or 0.",
        "ParameterArgumentTransformationError",
        command_id,
    )


def convert(param: Param, value: Any, command_id: str) -> Any:
    """Convert a deserialized value to what the parameter takes, as PowerShell would."""
    kind = param.kind
    if kind == "switch":
        if value is None or value is True:
            return True
        if value is False:
            return False
        raise _conversion_error(param, value, command_id, "Invalid cast.")
    if value is None:
        if kind == "bool":
            raise _bool_error(param, "", command_id)
        return None
    if kind in ("object", "objects"):
        return value if kind == "object" or isinstance(value, list) else [value]
    if kind == "string":
        if isinstance(value, (list, tuple)):
            # ParameterBinderBase.CoerceTypeAsNeeded: any IList bound to a scalar that is not
            # object, PSObject or an enum throws NotSupportedException, even with one element.
            raise _binding_error(
                f"Cannot convert 'System.Object[]' to the type 'System.String' required by parameter "
                f"'{param.name}'. Specified method is not supported.",
                "CannotConvertArgument",
                command_id,
            )
        return str(value) if not isinstance(value, bool) else ("True" if value else "False")
    if kind == "strings":
        items = value if isinstance(value, (list, tuple)) else [value]
        return [("True" if item else "False") if isinstance(item, bool) else str(item) for item in items]
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        raise _bool_error(
            param, "System.String" if isinstance(value, str) else type(value).__name__, command_id
        )
    if kind == "int":
        try:
            return int(str(value).strip()) if not isinstance(value, bool) else int(value)
        except ValueError:
            raise _conversion_error(
                param, value, command_id, "Input string was not in a correct format."
            ) from None
    if kind in ("enum", "enums"):
        items = value if isinstance(value, (list, tuple)) else [value]
        converted = []
        for item in items:
            for choice in param.choices:
                if str(item).lower() == choice.lower():
                    converted.append(choice)
                    break
            else:
                names = ", ".join(param.choices)
                raise _conversion_error(
                    param,
                    item,
                    command_id,
                    f"Unable to match the identifier name {item} to a valid enumerator name. Specify one of the "
                    f"following enumerator names and try again:\r\n{names}",
                )
        return converted if kind == "enums" else converted[0]
    raise AssertionError(kind)


def bind(resolved: Resolved, arguments: list[tuple[str | None, Any]]) -> dict[str, Any]:
    command_id = resolved.command_id
    bound: dict[str, Any] = {}
    positional: list[Any] = []
    for name, value in arguments:
        if name is None:
            positional.append(value)
            continue
        param = _match(name.lstrip("-"), resolved.params, command_id)
        if param.name in bound:
            raise _binding_error(
                f"Cannot bind parameter because parameter '{param.name}' is specified more than once. To provide "
                "multiple values to parameters that can accept multiple values, use the array syntax. For "
                'example, "-parameter value1,value2,value3".',
                "ParameterAlreadyBound",
                command_id,
            )
        bound[param.name] = convert(param, value, command_id)
    open_positions = sorted(
        (p for p in resolved.params if p.position is not None and p.name not in bound),
        key=lambda p: p.position or 0,
    )
    for value in positional:
        if not open_positions:
            raise _binding_error(
                f"A positional parameter cannot be found that accepts argument '{_describe(value)}'.",
                "PositionalParameterNotFound",
                command_id,
                target=value,
            )
        param = open_positions.pop(0)
        bound[param.name] = convert(param, value, command_id)
    _check_sets(resolved, bound)
    return bound


def _check_sets(resolved: Resolved, bound: dict[str, Any]) -> None:
    command_id = resolved.command_id
    for group in resolved.cmdlet.exclusive:
        if sum(1 for name in group if name in bound) > 1:
            raise _binding_error(
                "Parameter set cannot be resolved using the specified named parameters.",
                "AmbiguousParameterSet",
                command_id,
            )
    available = {p.name for p in resolved.params}
    missing = [p.name for p in resolved.params if p.mandatory and p.name not in bound]
    for group in resolved.cmdlet.one_of:
        if not any(name in bound for name in group) and group[0] in available:
            missing.append(group[0])
    if missing:
        raise _binding_error(
            f"Cannot process command because of one or more missing mandatory parameters: {' '.join(missing)}.",
            "MissingMandatoryParameter",
            command_id,
        )


# -- running ---------------------------------------------------------------------------------


def no_language_error() -> PSError:
    return PSError(
        "The syntax is not supported by this runspace. This can occur if the runspace is in no-language mode.",
        "ScriptsNotAllowed",
        category="ParserError",
        exception="System.Management.Automation.ParseException",
        target=None,
        terminating=True,
        qualified=True,
        activity="",
    )


def script_not_simulated() -> PSError:
    # Not a Windows behaviour: the simulator runs cmdlets, it does not interpret PowerShell.
    return not_simulated(
        "The remediate simulator runs cmdlets with parameters only; it does not interpret script text.",
        "ScriptNotSimulated",
        terminating=True,
    )


def statements(commands: list[Command]) -> list[list[Command]]:
    grouped: list[list[Command]] = [[]]
    for command in commands:
        grouped[-1].append(command)
        if command.end_of_statement:
            grouped.append([])
    return [group for group in grouped if group]
