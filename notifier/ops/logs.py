"""Logging set-up, with a last line of defence: every configured secret masked, every line one line.

Code never logs secrets on purpose; the filter catches what a library might
(an exception text quoting a URL, say), in every log line of the process. It
also escapes control characters (newlines included) in every message, so a
string from the upstream or a sink, logged as an argument, cannot forge a line.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable

from notifier.runtime.redact import MASK, Redactor, clean_text, secrets_of
from notifier.runtime.settings import Settings

__all__ = ["MASK", "JsonFormatter", "RedactSecrets", "secrets_of", "setup_logging"]

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._redactor = Redactor(secrets)

    def redact(self, text: str) -> str:
        return self._redactor.redact(text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        # The whole message, arguments from outside included, on one line and without secrets.
        record.msg, record.args = clean_text(self.redact(message)), None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


class TextFormatter(logging.Formatter):
    """People's format; a traceback's lines are indented, so no line of it can pass for a record of its own."""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text and not record.exc_text.startswith("  | "):
            record.exc_text = _indent(record.exc_text)
        return super().format(record)


def _indent(text: str) -> str:
    return "\n".join("  | " + clean_text(line) for line in text.splitlines())


_FIELDS = ("event_id", "event_type", "image_id", "account", "sink", "try", "status")


class JsonFormatter(logging.Formatter):
    """One JSON object a line, with the event's fields when the record carries them."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


def rq_log_level(settings: Settings) -> str:
    """The level of RQ's own loggers: ``WARNING`` (or higher, as configured) unless ``DEBUG`` is asked for.

    At ``INFO`` RQ writes three or four lines per job ("… job in …", "Job OK", "result discarded") and
    several per worker start, beside the notifier's own line per event and per delivery.
    """
    if settings.log_level == "DEBUG":
        return "DEBUG"
    return max(settings.log_level, "WARNING", key=logging.getLevelName)


def setup_logging(settings: Settings, stream: object = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    if settings.log_format == "json":
        formatter: logging.Formatter = JsonFormatter()
        formatter.converter = time.gmtime
    else:
        formatter = TextFormatter(_FORMAT)
    handler.setFormatter(formatter)
    handler.addFilter(RedactSecrets(secrets_of(settings)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # httpx logs every request URL at INFO: webhook URLs are secrets.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # RQ sets rq.worker to INFO when it is imported unless it has a level already, and Worker.work sets
    # rq.worker, rq.job and rq.scheduler to the level it is given (the worker passes this one).
    for name in ("rq", "rq.worker", "rq.job", "rq.scheduler"):
        logging.getLogger(name).setLevel(rq_log_level(settings))
