"""What must never be written down: the configured secrets, and control characters from outside.

- :class:`Redactor` masks every configured secret (the useapi.net token, webhook secrets and custom
  header values, sink URLs, Apprise URLs and every part of them that could be a token, Slack bot
  tokens, Redis and metrics passwords) and a few shapes of secret whoever configured them (``whsec_…``,
  ``Bearer …``, a password in a URL). It is applied to every log line, to the exception texts RQ
  stores in its failed registry, to an account's ``last_error`` and to what ``notifier status`` shows.
- :func:`clean_text` turns control characters (newlines included, and the Unicode line separators and
  bidirectional overrides) into visible escapes, so a string from the upstream or a sink cannot forge
  a log line or move a terminal's cursor.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from notifier.runtime.checks import redis_url_secrets
from notifier.runtime.settings import Settings
from notifier.runtime.settings_ops import parse_api_tokens
from notifier.runtime.sink_config import WebhookConfig
from notifier.runtime.sink_config_chat import AppriseConfig, SlackBotConfig, apprise_secrets

MASK = "[redacted]"
MIN_SECRET_LENGTH = 6
"""Shorter configured values are not masked one by one (they would mask ordinary words)."""

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"whsec_[A-Za-z0-9+/=]{8,}"), f"whsec_{MASK}"),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/:=-]{6,}"), rf"\1 {MASK}"),
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/@\s:]*):[^/@\s]+@"), rf"\1:{MASK}@"),
)

_ESCAPES = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
_CONTROL = {
    code: _ESCAPES.get(code, f"\\x{code:02x}")
    for code in (*range(0x00, 0x20), *range(0x7F, 0xA0))
}
_CONTROL.update({code: f"\\u{code:04x}" for code in (0x2028, 0x2029, 0x200E, 0x200F, *range(0x202A, 0x202F),
                                                      *range(0x2066, 0x206A))})


def clean_text(text: str) -> str:
    """Control characters as visible escapes (``\\n``, ``\\x1b``, ``\\u202e``): one line, nothing hidden."""
    return text.translate(_CONTROL)


def secrets_of(settings: Settings) -> list[str]:
    """Every configured value that is a secret."""
    values = [settings.useapi_token.get_secret_value(), settings.webhook_secret.get_secret_value(),
              settings.redis_password.get_secret_value(), settings.redis_sentinel_password.get_secret_value(),
              *redis_url_secrets(settings.redis_url),
              settings.metrics_token.get_secret_value()]
    values += [source.token.get_secret_value() for source in settings.sources]
    values += [token for _, token in parse_api_tokens(settings.api_token.get_secret_value())]
    for sink in settings.all_sinks():
        if not isinstance(sink, SlackBotConfig):  # a bot's URL is Slack's API; its token is the secret
            values.append(sink.url)
        if isinstance(sink, WebhookConfig):
            values.append(sink.secret.get_secret_value())
            for secret in sink.secrets():
                values += [secret, secret.removeprefix("whsec_")]
            values += sink.header_values().values()
        elif isinstance(sink, AppriseConfig):
            values += apprise_secrets(sink.url)
        elif isinstance(sink, SlackBotConfig):
            values.append(sink.token.get_secret_value())
    return [v for v in values if v]


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a URL is masked whole before a secret inside it.
        self._secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)

    @classmethod
    def from_settings(cls, settings: Settings) -> Redactor:
        return cls(secrets_of(settings))

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def one_line(self, text: str) -> str:
        """Redacted, and with control characters escaped: fit for one line of a log or a status."""
        return clean_text(self.redact(text))
