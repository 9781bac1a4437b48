"""Logging set-up, with a last line of defence that masks every configured secret.

Code never logs secrets on purpose; the filter catches what a library might
(an exception text quoting a URL, say), in every log line of the process.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterable

from notifier.runtime.checks import redis_url_secrets
from notifier.runtime.settings import Settings
from notifier.runtime.sink_config import WebhookConfig

MASK = "[redacted]"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first, so a URL is masked whole before a secret inside it.
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


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


def secrets_of(settings: Settings) -> list[str]:
    values = [settings.useapi_token.get_secret_value(), settings.webhook_secret.get_secret_value(),
              settings.redis_password.get_secret_value(), *redis_url_secrets(settings.redis_url)]
    for sink in settings.all_sinks():
        values.append(sink.url)
        if isinstance(sink, WebhookConfig):
            values.append(sink.secret.get_secret_value())
            for secret in sink.secrets():
                values += [secret, secret.removeprefix("whsec_")]
    return [v for v in values if v]


def setup_logging(settings: Settings, stream: object = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    if settings.log_format == "json":
        formatter: logging.Formatter = JsonFormatter()
        formatter.converter = time.gmtime
    else:
        formatter = logging.Formatter(_FORMAT)
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
