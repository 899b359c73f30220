"""Logging set-up: one line per event, text or JSON, with every secret redacted."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

# token shapes worth hiding even when we were not told their value
_TOKEN_SHAPES = re.compile(
    r"(xox[abposr]-[A-Za-z0-9-]{6,}|xapp-[A-Za-z0-9-]{6,}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/-]{8,}=*"
    r"|client_secret=[^&\s]+)"
)
MASK = "[redacted]"
# Secrets this long are hidden wherever they appear, even inside a longer word.
ANYWHERE_FROM = 8
# Shorter secrets (3 to 7 characters) are hidden where they stand alone, not glued to other
# letters or digits, so that a 4-letter password does not blank out every word containing it.
# A secret of 1 or 2 characters is not searched for: it would hide half of every line.
SHORTEST = 3
# the record attribute that carries an event's fields (see `event`)
FIELDS = "event_fields"
# the calls to the platform of the request being metered (see Meter); bot.keepnet counts them
upstream_calls: ContextVar[list[int] | None] = ContextVar("upstream_calls", default=None)


def _char_pattern(char: str) -> str:
    """The character itself, or its percent-encoding (either case), or '+' for a space."""
    encoded = "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))
    either_case = re.sub(r"[A-F]", lambda m: f"[{m[0]}{m[0].lower()}]", encoded)
    options = [re.escape(char), either_case]
    if char == " ":
        options.append(r"\+")
    return f"(?:{'|'.join(options)})"


def _secret_pattern(secret: str) -> str:
    body = "".join(_char_pattern(c) for c in secret)
    if len(secret) >= ANYWHERE_FROM:
        return body
    # alone: not glued to a letter or digit, though it may follow a percent-escape
    return rf"(?:(?<![A-Za-z0-9])|(?<=%[0-9A-Fa-f]{{2}})){body}(?![A-Za-z0-9])"


class RedactingFilter(logging.Filter):
    """Rewrites every record so that no known secret or token shape reaches a handler.

    A secret is found as given and in its URL-encoded form (as it appears in a URL or a
    form body), in the message, the traceback, the stack and an event's fields.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        known = sorted({s for s in secrets if len(s) >= SHORTEST}, key=len, reverse=True)
        self._known = re.compile("|".join(map(_secret_pattern, known))) if known else None

    def redact(self, text: str) -> str:
        if self._known is not None:
            text = self._known.sub(MASK, text)
        return _TOKEN_SHAPES.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.redact(text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, Mapping):
            setattr(record, FIELDS, {k: self._redact_value(v) for k, v in fields.items()})
        return True

    def _redact_value(self, value: Any) -> Any:
        return self.redact(value) if isinstance(value, str) else value


def event(logger: logging.Logger, what: str, **fields: str | int | None) -> None:
    """One INFO line for one handled request: `what key=value ...`.

    In JSON the fields are also keys of their own, for a log search to filter on.
    """
    shown = " ".join(f"{key}={'-' if value is None else value}" for key, value in fields.items())
    logger.info("%s %s", what, shown, extra={FIELDS: fields}, stacklevel=2)


class Meter:
    """Times one request and counts its calls to the platform, for the request's log line."""

    def __init__(self) -> None:
        self._started = time.monotonic()
        self._calls = [0]
        upstream_calls.set(self._calls)  # each listener runs in a context of its own

    def fields(self) -> dict[str, int]:
        elapsed_ms = int((time.monotonic() - self._started) * 1000)
        return {"duration_ms": elapsed_ms, "upstream_calls": self._calls[0]}


def _one_line(text: str) -> str:
    """Newlines escaped, so that a log shipper reading lines sees one event as one line."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message`, tracebacks included, always on one line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return _one_line(super().format(record))


class JsonFormatter(logging.Formatter):
    _OWN = ("time", "level", "logger", "message", "exception", "stack")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, Mapping):
            entry.update({k: v for k, v in fields.items() if k not in self._OWN})
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(*, level: str, fmt: str, secrets: Iterable[str]) -> RedactingFilter:
    """Install one stderr handler; the filter sits on the handler so every logger passes it."""
    handler = logging.StreamHandler(sys.stderr)
    redactor = RedactingFilter(secrets)
    handler.addFilter(redactor)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # these log every request line at INFO or below: keep only their warnings
    for noisy in ("httpx", "httpcore", "aiohttp.access", "apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.WARNING))
    return redactor
