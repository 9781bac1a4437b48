"""Configuration of each destination (webhook, Slack, Discord; Apprise and Slack bots in
:mod:`~notifier.runtime.sink_config_chat`) and its routing filters.

Every sink can filter by event type, account email, source (token), model and media (``images``,
``videos``). Defaults: webhooks get every event; chat sinks get the final ones (completed, moderated,
failed) and stalled work, of images and videos. URLs are secrets (they carry tokens): never in a repr,
a log line or an error; a sink is named by its ``name``. A webhook's custom
header values are secrets too. Templates are checked when the settings load
(:func:`notifier.delivery.sinks.templates.check`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from notifier.state.events import EVENT_TYPES

FINAL_EVENTS = tuple(f"{noun}.{kind}" for noun in ("image", "video") for kind in ("completed", "moderated", "failed"))
CHAT_EVENTS = (*FINAL_EVENTS, "image.stalled", "video.stalled")  # chat's default: what ended, and what is stuck
_NAME_RE = re.compile(r"^[A-Za-z0-9_]{1,40}$")
_HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")
RESERVED_HEADERS = frozenset({
    "webhook-id", "webhook-timestamp", "webhook-signature",  # the signature: never replaced by configuration
    "content-type", "content-length", "content-encoding", "transfer-encoding", "host", "connection",
})
MAX_HEADERS = 20


def check_http_url(value: str) -> str:
    """Accept only absolute http(s) URLs with a host; the error never repeats the URL."""
    value = value.strip()
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise ValueError("is not a valid URL") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http:// or https:// URL")
    try:
        httpx.URL(value)  # what the sinks request: a host that is not valid IDNA would fail every delivery
    except (httpx.InvalidURL, UnicodeError) as exc:
        raise ValueError("is not a valid URL (its host cannot be requested)") from exc
    return value


def check_webhook_secret(secret: str) -> str:
    """A Standard Webhooks secret: ``whsec_`` then base64 of 24 to 64 random bytes."""
    if not secret.startswith("whsec_"):
        raise ValueError("must start with 'whsec_' (Standard Webhooks secret format)")
    try:
        raw = base64.b64decode(secret[len("whsec_") :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("must be 'whsec_' followed by base64") from exc
    if not 24 <= len(raw) <= 64:
        raise ValueError("must encode 24 to 64 bytes (generate one with `notifier gen-secret`)")
    return secret


MAX_SECRETS = 4
_SECRET_SPLIT = re.compile(r"[\s,]+")


def split_secrets(value: str) -> list[str]:
    """The secrets of a setting that may hold several (space- or comma-separated), in order."""
    return [part for part in _SECRET_SPLIT.split(value) if part]


def check_webhook_secrets(value: str) -> str:
    """One ``whsec_`` secret, or several while rotating: every delivery is signed with each."""
    secrets_ = split_secrets(value)
    if not secrets_:
        raise ValueError("must hold a 'whsec_' secret")
    if len(secrets_) > MAX_SECRETS:
        raise ValueError(f"holds more than {MAX_SECRETS} secrets")
    for index, secret in enumerate(secrets_, start=1):
        try:
            check_webhook_secret(secret)
        except ValueError as exc:
            raise ValueError(f"secret {index} of {len(secrets_)} {exc}" if len(secrets_) > 1 else str(exc)) from None
    return value


def new_secret() -> str:
    """A fresh Standard Webhooks signing secret: 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def check_event_filter(events: list[str] | None) -> list[str] | None:
    if events is None:
        return None
    for event_type in events:
        if event_type not in EVENT_TYPES and event_type != "*":
            known = ", ".join(sorted(EVENT_TYPES))
            raise ValueError(f"unknown event type {event_type!r} (known: {known}, or '*')")
    return events


class SinkConfig(BaseModel):
    """What every destination has: where, what name, which events."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    kind: ClassVar[str] = "sink"
    default_events: ClassVar[tuple[str, ...] | None] = None
    rate_per_s: ClassVar[float | None] = None
    """Sustained messages per second allowed by the destination (None: no limit)."""
    burst: ClassVar[int] = 1

    url: str = Field(repr=False)
    """Where events are POSTed. A secret: never logged."""
    name: str = ""
    """Stable name for logs, job ids and ``notifier status``; derived from a hash of the URL when empty."""
    events: list[str] | None = None
    """Event types to send; None = the kind's default, ``["*"]`` = all."""
    accounts: list[str] | None = None
    """Only events of these account emails; None = all."""
    models: list[str] | None = None
    """Only events of images made with these models (the image's ``model`` field); None = all."""
    sources: list[str] | None = None
    """Only events of these sources (``NOTIFIER_SOURCES`` names, ``default`` for the single token); None = all."""
    media: list[Literal["images", "videos"]] | None = None
    """Only events of these media (``images``, ``videos``); None = all."""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_http_url(value)

    @field_validator("events")
    @classmethod
    def _events(cls, value: list[str] | None) -> list[str] | None:
        return check_event_filter(value)

    @field_validator("accounts")
    @classmethod
    def _accounts(cls, value: list[str] | None) -> list[str] | None:
        for email in value or []:
            if "@" not in email:
                raise ValueError(f"account filter {email!r} is not an email")
        return value

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: list[str] | None) -> list[str] | None:
        for name in value or []:
            if not _NAME_RE.match(name):
                raise ValueError("source filter values must be source names")
        return value

    @field_validator("models")
    @classmethod
    def _models(cls, value: list[str] | None) -> list[str] | None:
        for model in value or []:
            if not model.strip():
                raise ValueError("model filter values must not be empty")
        return value

    @model_validator(mode="after")
    def _default_name(self) -> SinkConfig:
        if not self.name:
            # A hash, not the URL: the URL may embed a token.
            digest = hashlib.sha256(self.url.encode()).hexdigest()[:10]
            object.__setattr__(self, "name", f"{self.kind}_{digest}")
        elif not _NAME_RE.match(self.name):
            raise ValueError("name must be 1-40 characters of A-Z, a-z, 0-9 and _")
        return self

    def accepts(self, event_type: str, data: dict[str, Any]) -> bool:
        events = self.events if self.events is not None else self.default_events
        if events is not None and "*" not in events and event_type not in events:
            return False
        if self.accounts is not None and data.get("email") not in self.accounts:
            return False
        if self.sources is not None and data.get("source", "default") not in self.sources:
            return False
        noun = event_type.partition(".")[0]
        if self.media is not None and f"{noun}s" not in self.media:
            return False
        model = image.get("model") if isinstance(image := data.get(noun), dict) else None
        return self.models is None or model in self.models


def check_template(value: str | None, target: str) -> str | None:
    if value is None:
        return None
    from notifier.delivery.sinks.templates import check  # Jinja2 is imported only when a template is configured

    check(value, target)
    return value


def check_headers(headers: dict[str, SecretStr]) -> dict[str, SecretStr]:
    """Header names a receiver can read, values that cannot split a request, and never the signature's."""
    if len(headers) > MAX_HEADERS:
        raise ValueError(f"has more than {MAX_HEADERS} headers")
    seen: set[str] = set()
    for name, value in headers.items():
        if not _HEADER_NAME_RE.match(name):
            raise ValueError("header names must be 1-64 characters of a token (letters, digits, '-', ...)")
        if name.lower() in RESERVED_HEADERS:
            raise ValueError(f"header {name!r} is set by the notifier (the signature and the body's framing)")
        if name.lower() in seen:
            raise ValueError(f"header {name!r} is given twice")
        seen.add(name.lower())
        text = value.get_secret_value()
        if any((ord(c) < 0x20 and c != "\t") or ord(c) == 0x7F for c in text) or not text.isascii():
            raise ValueError(f"header {name!r} must be printable ASCII (no line breaks)")
    return headers


class WebhookConfig(SinkConfig):
    """A Standard Webhooks endpoint: every event by default, signed."""

    kind: ClassVar[str] = "webhook"
    secret: SecretStr
    """Standard Webhooks signing secret (``whsec_...``); several, space- or comma-separated, while rotating."""
    headers: dict[str, SecretStr] = Field(default_factory=dict, repr=False)
    """Headers added to every request (a receiver's API key, say); values are secrets. The signature's
    headers cannot be replaced."""
    payload_template: str | None = Field(None, repr=False)
    """A Jinja2 template of the body, which must render JSON (every printed value is written as JSON);
    None: the Standard Webhooks event."""

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        check_webhook_secrets(value.get_secret_value())
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        return check_headers(value)

    @field_validator("payload_template")
    @classmethod
    def _payload_template(cls, value: str | None) -> str | None:
        return check_template(value, "json")

    def header_values(self) -> dict[str, str]:
        return {name: value.get_secret_value() for name, value in self.headers.items()}

    def secrets(self) -> list[str]:
        """Every secret a delivery is signed with (one signature each)."""
        return split_secrets(self.secret.get_secret_value())


class ChatConfig(SinkConfig):
    """A destination for people: final and stalled events by default, its title and text from templates."""

    default_events: ClassVar[tuple[str, ...] | None] = CHAT_EVENTS
    title_target: ClassVar[str] = "plain"
    text_target: ClassVar[str] = "plain"
    title_template: str | None = None
    """Jinja2 template of the message's title; None: today's (``{{ emoji }} {{ title }}``)."""
    text_template: str | None = None
    """Jinja2 template of the message's text; None: the kind's default (the prompt)."""
    def text_target_of(self) -> str:
        return self.text_target

    @model_validator(mode="after")
    def _templates(self) -> ChatConfig:
        try:
            check_template(self.title_template, self.title_target)
        except ValueError as exc:
            raise ValueError(f"title_template {exc}") from None
        try:
            check_template(self.text_template, self.text_target_of())
        except ValueError as exc:
            raise ValueError(f"text_template {exc}") from None
        return self


class SlackConfig(ChatConfig):
    """A Slack incoming webhook: final and stalled events by default."""

    kind: ClassVar[str] = "slack"
    text_target: ClassVar[str] = "slack"
    # Slack: about one message per second per incoming webhook, short bursts allowed.
    rate_per_s: ClassVar[float | None] = 1.0
    burst: ClassVar[int] = 3


class DiscordConfig(ChatConfig):
    """A Discord webhook: final and stalled events by default."""

    kind: ClassVar[str] = "discord"
    title_target: ClassVar[str] = "discord"
    text_target: ClassVar[str] = "discord"
    # Discord: 5 requests per 2 s per webhook, and 30 messages a minute per channel.
    rate_per_s: ClassVar[float | None] = 0.5
    burst: ClassVar[int] = 5
