"""Structured logs: one JSON object per line, carrying the id of the request being served.

Secrets never belong in a log. Nothing here logs a key or an Authorization header on purpose, and as a second
line of defence every line is scrubbed of anything shaped like an API key, a webhook secret or a bearer credential
before it is written (an exception message quoting one, say).
"""

import json
import logging
import re
import sys
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

# Set by app.middleware.RequestContext for the duration of each request.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

KEY_PREFIX_LENGTH = 12  # as app.auth.service.PREFIX_LENGTH: the part of a key that is kept in clear anyway
_SECRETS = (
    # An API key longer than its public prefix keeps only the prefix.
    (re.compile(r"\bsbz_[A-Za-z0-9_-]{9,}"), lambda m: m.group()[:KEY_PREFIX_LENGTH] + "[redacted]"),
    (re.compile(r"\bwhsec_[A-Za-z0-9_-]+"), lambda m: "whsec_[redacted]"),
    (re.compile(r"\b([Bb]earer)\s+[^\s\"',;]+"), lambda m: m.group(1) + " [redacted]"),
)
# Attributes every LogRecord has; anything else on a record came from `extra=` and is written as a field.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def redact(text: str) -> str:
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, the record's own fields (request_id, `extra=`), exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry |= {name: value for name, value in vars(record).items() if name not in _STANDARD}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str, ensure_ascii=False))


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to sys.stderr as it is at each record, so that test runners that swap it still get the lines."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr  # not setStream(): that flushes the old stream, which may be closed by now
        super().emit(record)


def _stamp_request_id(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    """Records get the request id when they are made, not when formatted: a handler may format them later."""

    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        current = request_id.get()
        if current is not None:
            record.request_id = current
        return record

    make.stamps_request_id = True  # type: ignore[attr-defined]
    return make


def configure(level: int = logging.INFO) -> None:
    """Writes the service's own logs (the "symbioza" logger and its children) to stderr as JSON lines.

    Idempotent, as every create_app() calls it. The records still propagate, so a host that collects the root
    logger (or pytest's caplog) sees them too.
    """
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "stamps_request_id", False):
        logging.setLogRecordFactory(_stamp_request_id(factory))
    logger = logging.getLogger("symbioza")
    if not any(isinstance(handler.formatter, JsonFormatter) for handler in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    logger.setLevel(level)
