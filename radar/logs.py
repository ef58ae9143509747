"""Logging to stderr: readable on a terminal (rich), plain lines elsewhere, or JSON lines.

Every record carries the source and run it belongs to, when known: `log_context` sets
them in context variables (per asyncio task and per thread), and a filter on the handler
copies them onto each record, from any logger. The same filter masks secrets: the
password of any URL (`postgresql://radar:***@db/radar`) and the values of the secret
environment variables, in messages and tracebacks alike.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import sys
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from contextvars import Token

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")
SECRET_ENV = ("RADAR_SMTP_PASSWORD", "RADAR_ALERT_WEBHOOK_TOKEN")
MASK = "***"

_SOURCE: ContextVar[str | None] = ContextVar("radar_source", default=None)
_RUN_ID: ContextVar[int | None] = ContextVar("radar_run_id", default=None)
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/@\s]*):[^@/\s]+@")


@contextlib.contextmanager
def log_context(*, source: str | None = None, run_id: int | None = None) -> Iterator[None]:
    """Within the block, log records carry this source and/or run id."""
    tokens: list[tuple[ContextVar[Any], Token[Any]]] = []
    if source is not None:
        tokens.append((_SOURCE, _SOURCE.set(source)))
    if run_id is not None:
        tokens.append((_RUN_ID, _RUN_ID.set(run_id)))
    try:
        yield
    finally:
        for variable, token in reversed(tokens):
            variable.reset(token)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """`text` with URL passwords and the given secret values masked."""
    text = _URL_PASSWORD.sub(rf"\g<head>:{MASK}@", text)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


def secret_values(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    env = os.environ if environ is None else environ
    # Very short values would mask ordinary words; no real secret is that short.
    return tuple(value for name in SECRET_ENV if len(value := env.get(name, "")) >= 4)


class ContextFilter(logging.Filter):
    """Adds `source` and `run_id` to every record and masks secrets in what it says."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "source", None) is None:
            record.source = _SOURCE.get()
        if getattr(record, "run_id", None) is None:
            record.run_id = _RUN_ID.get()
        # A malformed call (bad arguments) is left alone; the handler reports it as usual.
        with contextlib.suppress(TypeError, ValueError):
            record.msg, record.args = redact(record.getMessage(), self.secrets), None
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text, self.secrets)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, source, run_id."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "source": getattr(record, "source", None),
            "run_id": getattr(record, "run_id", None),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data, ensure_ascii=False, default=str)


def configure_logging(level: str = "warning", *, fmt: str = "text") -> None:
    """Log to stderr at `level`: JSON lines, or text (rich on a terminal, plain elsewhere)."""
    handler: logging.Handler
    if fmt == "json":
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
    elif sys.stderr.isatty():
        # Imported here: rich's console costs ~5 MB a process, and only a terminal shows it.
        from rich.console import Console
        from rich.logging import RichHandler

        handler = RichHandler(console=Console(stderr=True), show_path=False, markup=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(ContextFilter(secret_values()))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request at INFO, APScheduler every job it adds, starts and ends:
    # that is our --log-level debug, not info. Their warnings still show.
    for noisy in ("httpx", "apscheduler"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
