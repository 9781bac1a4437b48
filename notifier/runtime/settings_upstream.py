"""Settings of the upstream and of polling: which token, which accounts, how often."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from notifier.errors import ConfigError
from notifier.runtime.checks import check_upstream_url
from notifier.runtime.setting_errors import ENV_PREFIX
from notifier.runtime.settings_base import SettingsGroup


class UpstreamSettings(SettingsGroup):
    """The upstream API, the accounts and the polling schedule."""

    useapi_token: SecretStr = SecretStr("")
    """useapi.net API token (``user:<n>-<string>``). Required by the poller; workers do not need it."""
    useapi_base_url: str = "https://api.useapi.net/v2/pixverse"
    """Base URL of the upstream PixVerse API: https:// (plain http:// only to a loopback host)."""
    accounts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Comma-separated account emails to poll; empty = discover them via ``GET /accounts``."""
    accounts_refresh_s: float = Field(300.0, ge=5, le=86400)
    """How often discovered accounts are listed again."""
    poller_ttl_s: float = Field(5.0, ge=1, le=300)
    """Pollers sharing one Redis split the accounts; one not heard of for this long is dead and its accounts
    go to the others (each poller checks in every fifth of it)."""

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

    @field_validator("accounts", mode="before")
    @classmethod
    def _accounts(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        for email in value:
            if not isinstance(email, str) or "@" not in email or any(c.isspace() for c in email):
                raise ValueError("must be a comma-separated list of account emails")
        return value

    @field_validator("useapi_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return check_upstream_url(value)

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

    def require_token(self) -> str:
        token = self.useapi_token.get_secret_value()
        if not token:
            raise ConfigError(f"{ENV_PREFIX}USEAPI_TOKEN is not set: the poller needs a useapi.net API token")
        return token
