"""All settings, read from ``NOTIFIER_*`` environment variables and ``.env``.

One ``Settings`` object is built at start-up by :func:`load_settings` and
passed explicitly to everything that needs it. Invalid values stop start-up
with a :class:`~notifier.errors.ConfigError` that names the variable and never
echoes the value (values may be secrets).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from notifier.errors import ConfigError
from notifier.runtime.checks import check_cidrs, check_redis_url, check_upstream_url, split_list
from notifier.runtime.setting_errors import ENV_PREFIX, describe, too_deep
from notifier.runtime.sink_config import (
    DiscordConfig,
    SinkConfig,
    SlackConfig,
    WebhookConfig,
    check_http_url,
    check_webhook_secrets,
)


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "notifier"


class Settings(BaseSettings):
    """Every knob of the service. See the README's settings table."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", validate_default=True,
        use_attribute_docstrings=True,
    )

    useapi_token: SecretStr = SecretStr("")
    """useapi.net API token (``user:<n>-<string>``). Required by the poller; workers do not need it."""
    useapi_base_url: str = "https://api.useapi.net/v2/pixverse"
    """Base URL of the upstream PixVerse API: https:// (plain http:// only to a loopback host)."""
    accounts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Comma-separated account emails to poll; empty = discover them via ``GET /accounts``."""
    accounts_refresh_s: float = Field(300.0, ge=5, le=86400)
    """How often discovered accounts are listed again."""

    redis_url: str = Field("", repr=False)
    """Redis holding image state and the delivery queue (``redis://``, ``rediss://`` for TLS, ``unix://``);
    empty = a private embedded Redis in the data dir. A password in it is a secret: never shown."""
    redis_password: SecretStr = SecretStr("")
    """Password of ``NOTIFIER_REDIS_URL``'s Redis (or of its ACL user named in the URL), instead of in the URL."""
    data_dir: Path = Field(default_factory=default_data_dir)
    """Where the embedded Redis keeps its data (used only when ``NOTIFIER_REDIS_URL`` is empty)."""
    key_prefix: str = "notifier"
    """Prefix of every Redis key notifier writes (RQ's own keys aside)."""
    queue_name: str = "notifier-deliveries"
    """RQ queue the delivery jobs go to."""

    poll_interval_s: float = Field(3.0, ge=0.1, le=3600)
    """Seconds between two polls of an account with nothing in progress."""
    poll_interval_active_s: float = Field(1.0, ge=0.1, le=3600)
    """Seconds between two polls of an account with images in progress (longer when the upstream's
    ``queue_data.estimated_gen_time`` says they need longer, up to ``poll_interval_s``; never longer than
    ``poll_interval_s``)."""
    poll_concurrency: int = Field(8, ge=1, le=256)
    """How many accounts are polled at the same time."""
    page_size: int = Field(50, ge=1, le=100)
    """``limit`` of each upstream page."""
    max_pages: int = Field(20, ge=1, le=1000)
    """Most pages read from one account in one cycle (a backfill reads up to this many)."""
    upstream_timeout_s: float = Field(10.0, gt=0, le=120)
    """Timeout of each upstream request."""
    upstream_backoff_max_s: float = Field(300.0, ge=1, le=86400)
    """Longest pause of an account after repeated upstream errors (429, 5xx, timeouts)."""
    upstream_auth_pause_s: float = Field(300.0, ge=1, le=86400)
    """Pause after a 401 (bad token) before the next try."""
    image_max_age_s: float = Field(86400.0, ge=60)
    """An image still not final after this long is no longer tracked (and an unknown image older than
    this is recorded without an event)."""
    known_ttl_s: int = Field(7 * 86400, ge=3600)
    """How long images and accounts that are no longer seen are remembered in Redis."""

    webhook_url: str = Field("", repr=False)
    """URL of a single webhook (with ``NOTIFIER_WEBHOOK_SECRET``)."""
    webhook_secret: SecretStr = SecretStr("")
    """Signing secret of ``NOTIFIER_WEBHOOK_URL``; several (space- or comma-separated) while rotating."""
    webhooks: Annotated[list[WebhookConfig], NoDecode] = Field(default_factory=list)
    """JSON list of ``{"url", "secret", "name", "events", "accounts", "models"}`` for several webhooks."""
    slack_webhook_url: str = Field("", repr=False)
    """One Slack incoming-webhook URL (a secret)."""
    slack_webhooks: Annotated[list[SlackConfig], NoDecode] = Field(default_factory=list)
    """JSON list of ``{"url", "name", "events", "accounts", "models"}`` for several Slack webhooks."""
    discord_webhook_url: str = Field("", repr=False)
    """One Discord webhook URL (a secret)."""
    discord_webhooks: Annotated[list[DiscordConfig], NoDecode] = Field(default_factory=list)
    """JSON list of ``{"url", "name", "events", "accounts", "models"}`` for several Discord webhooks."""

    delivery_timeout_s: float = Field(10.0, gt=0, le=60)
    """Timeout of one delivery request."""
    delivery_batch_size: int = Field(100, ge=1, le=1000)
    """Most events one job sends to a webhook when several arrive together (1: one job per event)."""
    delivery_concurrency: int = Field(100, ge=1, le=500)
    """Requests a batch job keeps in flight to its webhook."""
    delivery_max_attempts: int = Field(10, ge=1, le=50)
    """Tries per delivery before it goes to the failed registry."""
    delivery_backoff_base_s: float = Field(2.0, ge=0.1, le=3600)
    """First retry delay; each further retry waits three times longer (with jitter)."""
    delivery_backoff_max_s: float = Field(3600.0, ge=1, le=86400)
    """Longest wait between two tries."""
    delivery_job_timeout_s: int = Field(30, ge=2, le=600)
    """RQ job timeout of one delivery; must exceed ``delivery_timeout_s``."""
    crash_retries: int = Field(3, ge=1, le=20)
    """Extra tries for a delivery whose worker died or that hit an unexpected error."""
    worker_count: int = Field(2, ge=1, le=64)
    """Delivery worker processes started by ``notifier run``."""
    worker_maintenance_interval_s: int = Field(5, ge=1, le=600)
    """How often a worker looks for deliveries abandoned by a dead worker."""
    worker_abandon_grace_s: int = Field(5, ge=1, le=600)
    """Seconds without a heartbeat from its worker (sent every fifth of this while a delivery runs)
    after which a running delivery counts as abandoned and runs again."""
    failed_ttl_s: int = Field(30 * 86400, ge=3600)
    """How long failed deliveries stay in the failed registry for ``notifier replay``."""

    http_host: str = "127.0.0.1"
    """Address of the /healthz, /readyz and /metrics endpoint (the container image sets 0.0.0.0)."""
    http_port: int = Field(8080, ge=0, le=65535)
    """Port of that endpoint; 0 turns it off."""
    metrics_token: SecretStr = SecretStr("")
    """When set, ``/metrics`` answers only requests with ``Authorization: Bearer <this token>``."""

    egress_deny: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Comma- or space-separated networks (CIDR) the notifier must not connect to, on top of the built-in
    link-local and cloud-metadata ones."""
    egress_allow: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Comma- or space-separated networks (CIDR) the notifier may connect to whatever else denies them."""
    egress_strict: bool = False
    """Also deny loopback, private, CGNAT, multicast, reserved and every other non-public address."""

    log_level: str = "INFO"
    """Python logging level."""
    log_format: Literal["text", "json"] = "text"
    """``text`` for people, ``json`` for one JSON object a line (log shippers)."""

    @field_validator("accounts", mode="before")
    @classmethod
    def _accounts(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        for email in value:
            if not isinstance(email, str) or "@" not in email or any(c.isspace() for c in email):
                raise ValueError("must be a comma-separated list of account emails")
        return value

    @field_validator("webhooks", "slack_webhooks", "discord_webhooks", mode="before")
    @classmethod
    def _sink_lists(cls, value: Any) -> Any:
        if isinstance(value, str):
            if not value.strip():
                return []
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(f"is not valid JSON ({exc.msg} at character {exc.pos})") from None
            except RecursionError:
                raise ValueError("is JSON nested too deeply") from None
            if not isinstance(value, list):
                raise ValueError('must be a JSON list of {"url", ...} objects')
        return value

    @field_validator("webhook_url", "slack_webhook_url", "discord_webhook_url")
    @classmethod
    def _urls(cls, value: str) -> str:
        return check_http_url(value).rstrip("/") if value else value

    @field_validator("useapi_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return check_upstream_url(value)

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        return check_redis_url(value)

    @field_validator("egress_deny", "egress_allow", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        value = split_list(value)
        return check_cidrs(value) if isinstance(value, list) and all(isinstance(v, str) for v in value) else value

    @field_validator("useapi_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value()
        if any(c.isspace() for c in token):
            raise ValueError("must not contain spaces or line breaks")
        if not (token.isascii() and token.isprintable()):
            # It goes in an HTTP header, which takes ASCII only: refused here, not by the first request.
            raise ValueError("must be printable ASCII characters")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _single_secret(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value():
            check_webhook_secrets(value.get_secret_value())
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        value = value.upper()
        if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value

    @field_validator("key_prefix", "queue_name")
    @classmethod
    def _names(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9_.-]{1,40}$", value):
            raise ValueError("must be 1-40 characters of A-Z, a-z, 0-9, '_', '.', '-'")
        return value

    @model_validator(mode="after")
    def _consistency(self) -> Settings:
        if self.redis_password.get_secret_value() and not self.redis_url:
            raise ValueError("NOTIFIER_REDIS_PASSWORD needs NOTIFIER_REDIS_URL (the embedded Redis has no password)")
        if bool(self.webhook_url) != bool(self.webhook_secret.get_secret_value()):
            raise ValueError("NOTIFIER_WEBHOOK_URL and NOTIFIER_WEBHOOK_SECRET must be set together")
        if self.delivery_job_timeout_s <= self.delivery_timeout_s + 1:
            raise ValueError("NOTIFIER_DELIVERY_JOB_TIMEOUT_S must exceed NOTIFIER_DELIVERY_TIMEOUT_S by over 1 s")
        names = [sink.name for sink in self.all_sinks()]
        if len(names) != len(set(names)):
            raise ValueError("two sinks have the same name (or the same URL): give them distinct names")
        return self

    def all_webhooks(self) -> list[WebhookConfig]:
        """The webhooks of ``NOTIFIER_WEBHOOKS`` plus the single ``NOTIFIER_WEBHOOK_URL`` one."""
        hooks = list(self.webhooks)
        if self.webhook_url:
            hooks.append(WebhookConfig(url=self.webhook_url, secret=self.webhook_secret, name="webhook"))
        return hooks

    def all_sinks(self) -> list[SinkConfig]:
        """Every configured destination, webhooks first."""
        sinks: list[SinkConfig] = [*self.all_webhooks(), *self.slack_webhooks, *self.discord_webhooks]
        if self.slack_webhook_url:
            sinks.append(SlackConfig(url=self.slack_webhook_url, name="slack"))
        if self.discord_webhook_url:
            sinks.append(DiscordConfig(url=self.discord_webhook_url, name="discord"))
        return sinks

    def require_token(self) -> str:
        token = self.useapi_token.get_secret_value()
        if not token:
            raise ConfigError(f"{ENV_PREFIX}USEAPI_TOKEN is not set: the poller needs a useapi.net API token")
        return token


def load_settings(**overrides: Any) -> Settings:
    """Build and validate the settings, turning any problem into a ConfigError naming the variable."""
    # `from None` on purpose: pydantic's own errors quote the raw input, which may be a secret.
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(f"invalid settings: {describe(exc)}") from None
    except RecursionError:
        # A JSON list setting nested thousands deep (pydantic-settings decodes it before we see it).
        raise ConfigError(f"invalid settings: {too_deep() or 'a JSON value'} is nested too deeply") from None
    except SettingsError as exc:
        # pydantic-settings' own message may quote the raw value: name the source only.
        raise ConfigError(f"invalid settings: could not read the environment ({type(exc).__name__})") from None
