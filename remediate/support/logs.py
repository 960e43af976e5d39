"""Logging, set up once by the CLI: structlog over the standard library.

Console rendering on a terminal, JSON otherwise (or as chosen with --log-format); an
optional log file always gets JSON. Library loggers (pypsrp, spnego, urllib3) go through the
same processors, so the redaction below covers them too.

Redaction has two halves:
- any key that names a secret (password, token, authorization, ...) has its value replaced;
- any value registered with `register_secret` is replaced wherever it appears inside a
  string, which catches a password that a library formats into a message.

structlog is imported only when a line is actually written: a quiet run (the default) never
pays for it. Values bound with `bind` (the change id, the run id) are on every line written
in that context, threads started with `contextvars.copy_context()` included.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Any, Literal, TextIO

REDACTED = "***"
SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?$|secret|token|credential|authorization|api[_-]?key|private[_-]?key|cookie",
    re.IGNORECASE,
)
_MIN_SECRET_LENGTH = 3

LogFormat = Literal["auto", "console", "json"]


class _SecretValues:
    """Values that must never be written out, whatever the key they hide under."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: tuple[str, ...] = ()

    def add(self, value: str) -> None:
        if len(value) < _MIN_SECRET_LENGTH:
            return
        with self._lock:
            if value not in self._values:
                # Longest first, so a secret containing another is masked whole.
                self._values = tuple(sorted({*self._values, value}, key=len, reverse=True))

    def mask(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, REDACTED)
        return text


_secrets = _SecretValues()

# Authentication tokens in text. An NTLM challenge with its response can be cracked offline,
# and pyspnego logs every token at debug level ("SPNEGO step output: <base64>"). A long base64
# run is masked when it decodes to an NTLM message or a GSS/SPNEGO/Kerberos token (ASN.1: an
# application tag 0x60, 0x6e, 0x6f, or a context tag 0xa0-0xa3); and whatever follows an HTTP
# authentication scheme is masked too.
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/]{24,}={0,2}")
# (a token has a capital, a digit or +/=: prose such as "not found in Kerberos database" is left alone)
_AUTH_HEADER = re.compile(
    r"\b((?i:Negotiate|NTLM|Kerberos|Basic|CredSSP|Bearer))(\s+)(?=[A-Za-z0-9+/._~-]*[A-Z0-9+/])"
    r"[A-Za-z0-9+/._~-]{8,}={0,2}"
)
_GSS_FIRST_BYTES = frozenset({0x60, 0x6E, 0x6F, 0xA0, 0xA1, 0xA2, 0xA3})


def _is_auth_token(run: str) -> bool:
    import base64
    import binascii

    try:
        decoded = base64.b64decode(run + "=" * (-len(run) % 4))
    except (binascii.Error, ValueError):
        return False
    return b"NTLMSSP\x00" in decoded or (len(decoded) > 16 and decoded[0] in _GSS_FIRST_BYTES)


def _mask(text: str) -> str:
    text = _secrets.mask(text)
    text = _BASE64_RUN.sub(lambda match: REDACTED if _is_auth_token(match.group(0)) else match.group(0), text)
    return _AUTH_HEADER.sub(lambda match: f"{match.group(1)}{match.group(2)}{REDACTED}", text)


def register_secret(value: str | None) -> None:
    """Make sure `value` never appears in any log line from now on."""
    if value:
        _secrets.add(value)


def mask_secrets(text: str) -> str:
    """Replace every registered secret and authentication token inside `text` (for error messages
    built from foreign text)."""
    return _mask(text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return _mask(value)
    if isinstance(value, MutableMapping):
        return {key: _redact_item(key, item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redact_value(item) for item in value)
    return value


def _redact_item(key: Any, value: Any) -> Any:
    if isinstance(key, str) and SECRET_KEY.search(key) and value is not None:
        return REDACTED
    return _redact_value(value)


def redact(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask secret keys and registered secret values."""
    for key in list(event_dict):
        event_dict[key] = _redact_item(key, event_dict[key])
    return event_dict


_bound: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "remediate_log_context", default=None
)


def bind(**values: Any) -> None:
    """Put `values` on every log line written from this context on (e.g. change_id, run)."""
    _bound.set({**(_bound.get() or {}), **values})


def clear() -> None:
    _bound.set(None)


def _merge_bound(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in (_bound.get() or {}).items():
        event_dict.setdefault(key, value)
    return event_dict


def _shared_processors() -> list[Any]:
    import structlog

    return [
        _merge_bound,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
        redact,
    ]


def _renderer(log_format: LogFormat, stream: TextIO, color: bool | None) -> Any:
    import structlog

    use_console = log_format == "console" or (log_format == "auto" and stream.isatty())
    if use_console:
        return structlog.dev.ConsoleRenderer(colors=stream.isatty() if color is None else color)
    return structlog.processors.JSONRenderer(sort_keys=True)


class _Formatter(logging.Formatter):
    """structlog's ProcessorFormatter, built when the first line is written."""

    def __init__(self, renderer: Callable[[], Any]) -> None:
        super().__init__()
        self._renderer = renderer
        self._real: logging.Formatter | None = None

    def format(self, record: logging.LogRecord) -> str:
        if self._real is None:
            import structlog

            self._real = structlog.stdlib.ProcessorFormatter(
                processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, self._renderer()],
                foreign_pre_chain=_shared_processors(),
            )
        return self._real.format(record)


def _handler(handler: logging.Handler, renderer: Callable[[], Any], level: int) -> logging.Handler:
    handler.setLevel(level)
    handler.setFormatter(_Formatter(renderer))
    return handler


def _json() -> Any:
    import structlog

    return structlog.processors.JSONRenderer(sort_keys=True)


def configure(
    log_format: LogFormat = "auto",
    log_file: Path | None = None,
    verbosity: int = 0,
    stream: TextIO | None = None,
    color: bool | None = None,
) -> None:
    """Set up logging for the whole process. Called once, by the CLI. `color`: None follows the
    stream (a terminal), True or False forces it (--color, NO_COLOR)."""
    stream = stream or sys.stderr
    console_level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    handlers: list[logging.Handler] = [
        _handler(logging.StreamHandler(stream), lambda: _renderer(log_format, stream, color), console_level)
    ]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        # owner-only, also when it exists already: a log names servers, accounts and changes
        descriptor = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(descriptor, 0o600)
        os.close(descriptor)
        file_level = logging.DEBUG if verbosity >= 2 else logging.INFO
        handlers.append(
            _handler(
                logging.FileHandler(log_file, encoding="utf-8"),
                _json,
                file_level,
            )
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(min(handler.level for handler in handlers))
    # Libraries log whole SOAP messages at DEBUG, and retries and failures (with tracebacks)
    # that remediate reports itself, cleanly: all of it with -vvv; with -vv their warnings and
    # errors without tracebacks; below that, nothing.
    library_level = {0: logging.CRITICAL + 1, 1: logging.CRITICAL + 1, 2: logging.WARNING}.get(
        verbosity, logging.DEBUG
    )
    for name in _noisy_libraries():
        library = logging.getLogger(name)
        library.setLevel(library_level)
        for old_filter in [f for f in library.filters if isinstance(f, _NoTraceback)]:
            library.removeFilter(old_filter)
        if verbosity < 3:
            library.addFilter(_NoTraceback())


class _NoTraceback(logging.Filter):
    """A library's log line without its traceback (remediate names the failure itself)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def _noisy_libraries() -> Iterable[str]:
    return ("pypsrp", "psrpcore", "spnego", "urllib3", "requests")


class Logger:
    """A structlog logger over the standard library's, made on the first line that is written
    (a line below the level in force costs one level check)."""

    def __init__(self, name: str) -> None:
        self._stdlib = logging.getLogger(name)
        self._structlog: Any = None

    def _write(self, level: int, method: str, event: str, values: dict[str, Any]) -> None:
        if not self._stdlib.isEnabledFor(level):
            return
        if self._structlog is None:
            import structlog

            self._structlog = structlog.wrap_logger(
                self._stdlib,
                processors=[*_shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
                wrapper_class=structlog.stdlib.BoundLogger,
            )
        getattr(self._structlog, method)(event, **values)

    def debug(self, event: str, **values: Any) -> None:
        self._write(logging.DEBUG, "debug", event, values)

    def info(self, event: str, **values: Any) -> None:
        self._write(logging.INFO, "info", event, values)

    def warning(self, event: str, **values: Any) -> None:
        self._write(logging.WARNING, "warning", event, values)

    def error(self, event: str, **values: Any) -> None:
        self._write(logging.ERROR, "error", event, values)

    def exception(self, event: str, **values: Any) -> None:
        self._write(logging.ERROR, "exception", event, values)


def get_logger(name: str) -> Logger:
    """A logger that goes through the standard library: silent until `configure` sets handlers."""
    return Logger(name)
