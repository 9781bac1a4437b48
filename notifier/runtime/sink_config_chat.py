"""Configuration of the Apprise sinks and of the Slack bots (threads through Slack's Web API).

An Apprise URL (``tgram://bot-token/chat``, ``mailto://user:pass@host``, ``json://host/path``) is a
secret as a whole, and so is every part of it Apprise itself would hide (its privacy form); both are
masked wherever the notifier writes (:func:`apprise_secrets`). The ``apprise`` library is imported only
when such a sink is configured.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from typing import Any, ClassVar, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator

from notifier.runtime.sink_config import ChatConfig, check_http_url

_TOKEN_SPLIT = re.compile(r"[/:@?&=,;+#\s]+")
_TARGETS = {"text": "plain", "markdown": "markdown", "html": "html"}


def quiet_apprise() -> None:
    """Apprise's own log lines never reach the notifier's logs: at DEBUG they print whole URLs and payloads.

    Its warnings are captured per send instead (:mod:`notifier.delivery.sinks.apprise`), masked, and
    reported in the delivery's error. urllib3 and oauthlib (under Apprise) stay at WARNING for the same reason.
    """
    import logging

    logger = logging.getLogger("apprise")
    logger.propagate = False
    logger.setLevel(logging.WARNING)
    if not logger.handlers:  # not even Python's last-resort handler (stderr) may print them
        logger.addHandler(logging.NullHandler())
    for name in ("urllib3", "requests_oauthlib", "oauthlib"):
        logging.getLogger(name).setLevel(logging.WARNING)


def instantiate(url: str) -> Any:
    """Apprise's plugin for ``url``, or None when Apprise cannot use it."""
    quiet_apprise()
    import apprise

    return apprise.Apprise.instantiate(url, asset=apprise.AppriseAsset(storage_mode="memory"),
                                       suppress_exceptions=True)


def split_apprise_urls(value: str) -> list[str]:
    """The URLs of a setting holding one or several (space- or comma-separated, as Apprise's own tools take)."""
    if not value.strip():
        return []
    from apprise.utils.parse import parse_urls

    return [str(url) for url in parse_urls(value)]  # type: ignore[no-untyped-call]


def check_apprise_url(value: str) -> str:
    """One URL Apprise can use; the error never repeats it."""
    value = value.strip()
    if "://" not in value:
        raise ValueError("is not an Apprise URL (scheme://...)")
    if len(split_apprise_urls(value)) != 1:
        raise ValueError("holds several URLs: give each its own entry")
    if instantiate(value) is None:
        scheme = value.split("://", 1)[0]
        shown = scheme if re.fullmatch(r"[a-z0-9+]{1,16}", scheme) else "its scheme"
        raise ValueError(f"is not a URL Apprise can use ({shown}: unknown service, or a part is missing or wrong)")
    return value


def apprise_secrets(url: str) -> list[str]:
    """The URL and every part of it that could be a token: what Apprise itself hides (its privacy form), the
    password, and the path's segments (where an HTTP service's token lives: ``mmost://host/TOKEN``). Not the
    user, the host or the query's values that Apprise shows (``?to=team@example.com``): masking those would
    mask ordinary words and addresses in every log line."""
    found = {url}
    parts = urlsplit(url) if "://" in url else None
    if parts is not None:
        with contextlib.suppress(ValueError):
            found.update(p for p in (parts.password,) if p)
        found.update(_TOKEN_SPLIT.split(unquote(parts.path)))
    plugin = instantiate(url)
    if plugin is not None:
        full, private = plugin.url(privacy=False), plugin.url(privacy=True)
        shown = set(_TOKEN_SPLIT.split(unquote(private)))
        found.add(full)
        found.update(t for t in _TOKEN_SPLIT.split(unquote(full)) if t not in shown)
        found.update(t for t in _TOKEN_SPLIT.split(unquote(url.split("://", 1)[-1])) if t not in shown)
    return sorted(s for s in found if s)


def check_slack_token(value: SecretStr) -> SecretStr:
    token = value.get_secret_value()
    if not token.startswith("xox") or not token.isascii() or not token.isprintable() or " " in token:
        raise ValueError("must be a Slack token (xoxb-…)")
    return value


def check_slack_channel(value: str) -> str:
    if not re.fullmatch(r"[A-Z0-9]{6,24}", value):
        raise ValueError("must be a channel id such as C0123ABCD (not its #name)")
    return value


class AppriseConfig(ChatConfig):
    """A destination reached through Apprise: final events by default, one Apprise URL."""

    kind: ClassVar[str] = "apprise"
    # Apprise cannot tell what the service allows: one message a second, short bursts (Slack's and Telegram's pace).
    rate_per_s: ClassVar[float | None] = 1.0
    burst: ClassVar[int] = 3
    format: Literal["text", "markdown", "html"] = "text"
    """What the text template writes: its printed values are escaped for it, and Apprise converts it for the
    service (``html`` for an email, say)."""
    max_attempts: int = Field(default=3, ge=1, le=50)
    """Tries of one delivery (Apprise says only success or failure, so every failure is retried); when not
    given, ``NOTIFIER_APPRISE_MAX_ATTEMPTS``."""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_apprise_url(value)

    def text_target_of(self) -> str:
        return _TARGETS[self.format]

    def where(self) -> str:
        """How the destination is shown: the scheme only (the host of ``tgram://`` is the bot's token)."""
        scheme = self.url.split("://", 1)[0]
        return f"{scheme}://…" if re.fullmatch(r"[a-z0-9+]{1,16}", scheme) else "…"


class SlackBotConfig(ChatConfig):
    """A Slack channel written to by a bot token: one message per item, its later statuses in its thread."""

    kind: ClassVar[str] = "slack_bot"
    default_events: ClassVar[tuple[str, ...] | None] = None  # every status: the thread is where they go
    text_target: ClassVar[str] = "slack"
    # chat.postMessage: about one message a second per channel; a delivery is at most a reply and an update.
    rate_per_s: ClassVar[float | None] = 1.0
    burst: ClassVar[int] = 3

    url: str = Field("https://slack.com/api", repr=False)
    """Slack's Web API (``NOTIFIER_SLACK_API_URL``); a local fake in tests."""
    token: SecretStr
    """The bot's token (``xoxb-…``), with the ``chat:write`` scope."""
    channel: str
    """The channel's id (``C0123ABCD``); the bot must be a member."""
    threads: bool = True
    """One message per item with its later statuses as replies (False: one message per event)."""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_http_url(value).rstrip("/")

    @field_validator("token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        return check_slack_token(value)

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        return check_slack_channel(value)

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, values: Any) -> Any:
        # The name is derived from the channel and the token, not the (shared) API URL.
        if isinstance(values, dict) and not values.get("name") and isinstance(values.get("channel"), str):
            token = values.get("token")
            raw = token.get_secret_value() if isinstance(token, SecretStr) else str(token)
            digest = hashlib.sha256(f"{values['channel']}\n{raw}".encode()).hexdigest()[:10]
            values = {**values, "name": f"slack_bot_{digest}"}
        return values
