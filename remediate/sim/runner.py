"""Run the statements of one PSRP pipeline and record each call in the audit trail."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from remediate.sim.audit import AuditTrail, plain
from remediate.sim.cmdlets import REGISTRY
from remediate.sim.cmdlets.exchange import second_hop_error
from remediate.sim.engine import (
    Call,
    Command,
    Resolved,
    Session,
    bind,
    no_language_error,
    resolve,
    script_not_simulated,
    statements,
)
from remediate.sim.latency import wait
from remediate.sim.machine import Machine
from remediate.sim.records import PSError


def _fail(error: PSError) -> None:
    raise error


@dataclass
class Terminated(Exception):
    """A terminating error ended the pipeline (PowerShell reports the pipeline as Failed)."""

    error: PSError
    command: str
    command_id: str
    position: int
    length: int


@dataclass
class Sinks:
    output: Callable[[Any], None]
    error: Callable[[PSError, str, str, int, int], None]  # error, command, command id, position, length
    warning: Callable[[str], None]


@dataclass
class PipelineRun:
    commands: list[Command]
    session: Session
    machine: Machine
    audit: AuditTrail
    sinks: Sinks
    cancelled: threading.Event
    pipeline_input: list[Any]

    def run(self) -> None:
        """Each statement in turn. Several statements (a batch: `AddStatement`) run as
        PowerShell's batch invocation does (PowerShell.cs, BatchInvocationWorkItem): a
        terminating error made by -ErrorAction Stop (ActionPreferenceStopException) stops the
        batch and fails the pipeline; any other terminating error of a statement goes to the
        error stream and the next statement runs."""
        groups = statements(self.commands)
        for index, statement in enumerate(groups):
            values = self.pipeline_input if index == 0 else []
            try:
                for position, command in enumerate(statement, start=1):
                    last = position == len(statement)
                    collected: list[Any] = []
                    emit = self.sinks.output if last else collected.append
                    self._run_command(command, values, emit, position, len(statement))
                    values = collected
            except Terminated as ended:
                if len(groups) == 1 or ended.error.preference_stop:
                    raise
                self.sinks.error(ended.error, ended.command, ended.command_id, ended.position, ended.length)

    def _record(self, command: Command, outcome: str, error_id: str | None = None) -> None:
        self.audit.add(
            server=self.machine.name,
            configuration=self.session.configuration,
            user=self.session.user,
            command=command.text,
            is_script=command.is_script,
            parameters=[[name, plain(value)] for name, value in command.arguments],
            outcome=outcome,
            error_id=error_id,
        )

    def _run_command(
        self, command: Command, values: list[Any], emit: Callable[[Any], None], position: int, length: int
    ) -> None:
        resolved: Resolved | None = None
        try:
            if command.is_script:
                raise no_language_error() if self.session.no_language else script_not_simulated()
            resolved = resolve(command.text, self.session, self.machine, REGISTRY)
            params = bind(resolved, command.arguments)
        except PSError as error:
            error.terminating = True
            command_id = resolved.command_id if resolved else ""
            self._record(command, "failed", error.fully_qualified(command_id))
            raise Terminated(error, command.text if resolved else "", command_id, position, length) from None
        self._invoke(command, resolved, params, values, emit, position, length)

    def _invoke(
        self,
        command: Command,
        resolved: Resolved,
        params: dict[str, Any],
        values: list[Any],
        emit: Callable[[Any], None],
        position: int,
        length: int,
    ) -> None:
        name, command_id = resolved.cmdlet.name, resolved.command_id
        errors: list[str] = []

        def write_error(error: PSError) -> None:
            errors.append(error.fully_qualified(command_id))
            self.sinks.error(error, name, command_id, position, length)

        call = Call(
            cmdlet=resolved.cmdlet,
            params=params,
            input=values,
            machine=self.machine,
            session=self.session,
            output=emit,
            write_error=write_error,
            warning=self.sinks.warning,
            cancelled=self.cancelled,
        )
        try:
            if (
                resolved.cmdlet.source == "exchange"
                and not self.session.no_language
                and not self.session.delegated
                and self.machine.second_hop_modelled()
            ):
                # the snap-in in a WinRM session: AD is the second hop, and this logon cannot make it
                raise second_hop_error(call)
            arguments = " ".join(str(value) for _, value in command.arguments)
            fault = self.machine.faults.cmdlet_error(self.machine.name, name, arguments)
            injected = None
            if fault is not None:
                spec = fault.error_spec()
                injected = PSError(
                    spec.message,
                    spec.error_id,
                    category=spec.category,
                    exception=spec.exception,
                    terminating=spec.terminating,
                )
            if injected is not None and fault is not None and fault.when == "before":
                if injected.terminating:
                    raise injected
                call.error(injected)
            elif params.get("WhatIf"):
                self._record(command, "whatif")
                return
            else:
                delay = self.machine.faults.cmdlet_delay(self.machine.name, name, arguments)
                if injected is not None:
                    call.midway = functools.partial(_fail, injected)
                elif delay is not None and delay.when == "midway":
                    call.midway = functools.partial(call.sleep, delay.seconds)
                if delay is not None and delay.when == "before":
                    call.sleep(delay.seconds)
                latency = self.machine.org.latency
                wait(
                    latency.exchange_cmdlet_ms if resolved.cmdlet.source == "exchange" else latency.cmdlet_ms
                )
                resolved.cmdlet.run(call)
                if delay is not None and delay.when == "after":
                    self._record(command, "error" if errors else "ok", errors[0] if errors else None)
                    call.sleep(delay.seconds)
                    return
        except PSError as error:
            error.terminating = True
            self._record(command, "failed", error.fully_qualified(command_id))
            raise Terminated(error, name, command_id, position, length) from None
        except BaseException:
            self._record(command, "stopped" if self.cancelled.is_set() else "failed")
            raise
        self._record(command, "error" if errors else "ok", errors[0] if errors else None)
