"""All settings, read from ``NOTIFIER_*`` environment variables and ``.env``.

One ``Settings`` object is built at start-up by :func:`load_settings` and
passed explicitly to everything that needs it. Invalid values stop start-up
with a :class:`~notifier.errors.ConfigError` that names the variable and never
echoes the value (values may be secrets).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsError

from notifier.errors import ConfigError
from notifier.runtime.checks import check_cidrs, check_redis_url, split_list
from notifier.runtime.sentinel_url import is_sentinel_url
from notifier.runtime.setting_errors import describe, too_deep
from notifier.runtime.settings_base import SettingsGroup
from notifier.runtime.settings_delivery import DeliverySettings
from notifier.runtime.settings_ops import OpsSettings
from notifier.runtime.settings_sinks import SinkSettings
from notifier.runtime.settings_upstream import UpstreamSettings
from notifier.state.keys import DEFAULT_SOURCE


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "notifier"


class Settings(UpstreamSettings, SinkSettings, DeliverySettings, OpsSettings, SettingsGroup):
    """Every knob of the service, one class for all; each stage's fields live in its own group module.

    See the README's settings table.
    """

    redis_url: str = Field("", repr=False)
    """Redis holding image state and the delivery queue (``redis://``, ``rediss://`` for TLS, ``unix://``,
    ``redis+sentinel://`` for a master found through Sentinel); empty = a private embedded Redis in the data
    dir. A password in it is a secret: never shown."""
    redis_password: SecretStr = SecretStr("")
    """Password of ``NOTIFIER_REDIS_URL``'s Redis (or of its ACL user named in the URL), instead of in the URL."""
    redis_sentinel_password: SecretStr = SecretStr("")
    """Password of the sentinels of a ``redis+sentinel://`` URL (not the master's), instead of in the URL."""
    data_dir: Path = Field(default_factory=default_data_dir)
    """Where the embedded Redis keeps its data (used only when ``NOTIFIER_REDIS_URL`` is empty)."""
    key_prefix: str = "notifier"
    """Prefix of every Redis key notifier writes (RQ's own keys aside)."""
    queue_name: str = "notifier-deliveries"
    """RQ queue the delivery jobs go to."""

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

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str) -> str:
        return check_redis_url(value)

    @field_validator("egress_deny", "egress_allow", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        value = split_list(value)
        return check_cidrs(value) if isinstance(value, list) and all(isinstance(v, str) for v in value) else value

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
        if self.redis_sentinel_password.get_secret_value() and not is_sentinel_url(self.redis_url):
            raise ValueError("NOTIFIER_REDIS_SENTINEL_PASSWORD needs a redis+sentinel:// NOTIFIER_REDIS_URL")
        if bool(self.webhook_url) != bool(self.webhook_secret.get_secret_value()):
            raise ValueError("NOTIFIER_WEBHOOK_URL and NOTIFIER_WEBHOOK_SECRET must be set together")
        if self.webhook_headers and not self.webhook_url:
            raise ValueError("NOTIFIER_WEBHOOK_HEADERS needs NOTIFIER_WEBHOOK_URL")
        if bool(self.slack_bot_token.get_secret_value()) != bool(self.slack_channel):
            raise ValueError("NOTIFIER_SLACK_BOT_TOKEN and NOTIFIER_SLACK_CHANNEL must be set together")
        if self.delivery_job_timeout_s <= self.delivery_timeout_s + 1:
            raise ValueError("NOTIFIER_DELIVERY_JOB_TIMEOUT_S must exceed NOTIFIER_DELIVERY_TIMEOUT_S by over 1 s")
        names = [sink.name for sink in self.all_sinks()]
        if len(names) != len(set(names)):
            raise ValueError("two sinks have the same name (or the same URL): give them distinct names")
        known = {DEFAULT_SOURCE, *(source.name for source in self.sources)}
        for sink in self.all_sinks():
            if any(name not in known for name in sink.sources or []):
                raise ValueError(f"sink {sink.name} filters on a source that is not configured")
        return self

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
