"""Structured JSON logs: one object per line, UTC, request id bound, secrets redacted.

Both structlog loggers and the standard library's (uvicorn, alembic, SQLAlchemy) go through the
same processors, so nothing reaches the output without passing the redaction step.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import IO, Any

import structlog
from structlog.types import EventDict, Processor

REDACTED = "[REDACTED]"

# Keys whose values are never logged, matched on a normalised key (lower case, no separators).
_SENSITIVE_KEY_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "apikey",
    "accesskey",
    "taxid",
    "csrf",
    "signature",
    "encryptionkey",
    "privatekey",
)
_SENSITIVE_KEYS_EXACT = frozenset({"ssn", "ein", "tin", "tax", "w9", "w9data"})
_KEY_NORMALISER = re.compile(r"[^a-z0-9]")

# Values that are secrets whatever key they sit under.
_SECRET_VALUE_PATTERNS = (
    # Authorization header values: "Bearer abc", "Basic abc".
    re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE),
    # JSON Web Tokens (three base64url segments, the first one a JSON header).
    re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
    # US social security numbers and employer identification numbers.
    re.compile(r"\b\d{3}-\d{2}-\d{4}\b"),
    re.compile(r"\b\d{2}-\d{7}\b"),
    # Query-string secrets: ?token=..., &password=...
    re.compile(
        r"([?&](?:token|password|refresh_?token|access_?token|code|key|signature)=)[^&\s\"']+",
        re.IGNORECASE,
    ),
)


def is_sensitive_key(key: str) -> bool:
    normalised = _KEY_NORMALISER.sub("", key.lower())
    if normalised in ("tokentype", "tokentypes"):
        return False
    if normalised in _SENSITIVE_KEYS_EXACT:
        return True
    return any(part in normalised for part in _SENSITIVE_KEY_PARTS)


def redact_text(text: str) -> str:
    for pattern in _SECRET_VALUE_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


def _redact_value(value: Any, depth: int = 0) -> Any:
    if depth > 6:
        return value
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            key: REDACTED
            if isinstance(key, str) and is_sensitive_key(key)
            else _redact_value(item, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_redact_value(item, depth + 1) for item in value]
    return value


def redact_secrets(_: Any, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: drop secrets by key name and by value shape."""
    for key in list(event_dict):
        value = event_dict[key]
        if is_sensitive_key(key):
            event_dict[key] = REDACTED
        elif isinstance(value, str | Mapping | list | tuple):
            event_dict[key] = _redact_value(value)
    return event_dict


def _drop_color_message(_: Any, __: str, event_dict: EventDict) -> EventDict:
    # uvicorn duplicates its message with ANSI colours for its own formatter.
    event_dict.pop("color_message", None)
    return event_dict


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
        _drop_color_message,
    ]


class _Formatter(structlog.stdlib.ProcessorFormatter):
    pass


def configure_logging(level: str = "INFO", stream: IO[str] | None = None) -> None:
    """Route structlog and stdlib logging to one JSON stream (stdout by default)."""
    numeric_level = logging.getLevelName(level.upper())
    if not isinstance(numeric_level, int):
        numeric_level = logging.INFO

    shared = _shared_processors()
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )

    formatter = _Formatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _drop_color_message,
            structlog.processors.format_exc_info,
            redact_secrets,
            structlog.processors.JSONRenderer(default=str),
        ],
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing.formatter, _Formatter) or existing.formatter is None:
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(numeric_level)

    # uvicorn's own handlers would print a second, unstructured copy; our middleware writes the
    # access line, so uvicorn's access log is off.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger


def bind_request_context(values: MutableMapping[str, Any]) -> Any:
    """Bind values to every log line of the current task; returns tokens for `reset`."""
    return structlog.contextvars.bind_contextvars(**values)


def reset_request_context(tokens: Any) -> None:
    structlog.contextvars.reset_contextvars(**tokens)
