"""The one error family remediate raises, and the exit codes the CLI maps errors to.

Every error a user can meet carries a short kebab-case reference (searchable, stable across
versions), a message saying what went wrong and where, and a hint saying what to do next.
Only the CLI renders them; the core raises them.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2  # click's own code for bad command-line usage
    UNEXPECTED = 3
    INTERRUPTED = 130
    BROKEN_PIPE = 141  # the reader of standard output went away (`| head`): as if by SIGPIPE


class RemediateError(Exception):
    """A failure the user can act on.

    `reference` names the kind of failure (`sim-state-mismatch`), `message` says what and
    where, `hint` says what to do. Messages never contain secrets: callers pass names and
    paths, never credentials.
    """

    def __init__(self, reference: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.reference = reference
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"RemediateError({self.reference!r}, {self.message!r}, hint={self.hint!r})"
