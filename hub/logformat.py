"""How log records are written: plain text or one JSON object per line, each carrying
the id of the HTTP request it belongs to.

The request id lives in a context variable the API's middleware sets for the duration of
a request (`hub.api.middleware`); aiohttp runs each request in its own task, so every
record logged while serving it — by the hub, a plugin or a library — carries it, and
records of other requests never do. Masking (`hub.logmask`) runs as a handler filter
before either formatter, and the JSON formatter masks the fields it adds itself.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from hub.logmask import mask_text

REQUEST_ID: ContextVar[str | None] = ContextVar("tickethub_request_id", default=None)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RequestIdFilter(logging.Filter):
    """Puts the current request id (or ``None``) on every record as ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class TextFormatter(logging.Formatter):
    """The classic line, with `` [request <id>]`` at the end inside a request."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        if request_id:
            first, nl, rest = line.partition("\n")
            line = f"{first} [request {request_id}]{nl}{rest}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (UTC, ISO 8601), ``level``, ``logger``,
    ``message``, ``request_id`` inside a request, ``http`` for access-log records (see
    `hub.api.middleware`), ``exc`` with the traceback of an exception."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_text(record.getMessage()),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            doc["request_id"] = request_id
        http = getattr(record, "http", None)
        if isinstance(http, dict):
            doc["http"] = {k: mask_text(v) if isinstance(v, str) else v for k, v in http.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            doc["exc"] = mask_text(record.exc_text)
        if record.stack_info:
            doc["stack"] = mask_text(self.formatStack(record.stack_info))
        return json.dumps(doc, ensure_ascii=False, default=str)


def formatter(kind: str) -> logging.Formatter:
    """The formatter for ``TICKETHUB_LOG_FORMAT`` (``text`` or ``json``)."""
    if kind == "json":
        return JsonFormatter()
    if kind == "text":
        return TextFormatter()
    raise ValueError(f"log format must be 'text' or 'json', not {kind!r}")
