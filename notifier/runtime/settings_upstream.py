"""Settings of the upstream and of polling: which token, which accounts, how often."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from notifier.errors import ConfigError
from notifier.runtime.checks import check_upstream_url, json_setting
from notifier.runtime.setting_errors import ENV_PREFIX
from notifier.runtime.settings_base import SettingsGroup
from notifier.runtime.source_config import SourceConfig, check_account_emails, check_token
from notifier.state.keys import DEFAULT_SOURCE


class UpstreamSettings(SettingsGroup):
    """The upstream API, the accounts and the polling schedule."""

    useapi_token: SecretStr = SecretStr("")
    """useapi.net API token (``user:<n>-<string>``). Required by the poller; workers do not need it."""
    useapi_base_url: str = "https://api.useapi.net/v2/pixverse"
    """Base URL of the upstream PixVerse API: https:// (plain http:// only to a loopback host)."""
    accounts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Comma-separated account emails to poll; empty = discover them via ``GET /accounts``."""
    sources: Annotated[list[SourceConfig], NoDecode] = Field(default_factory=list)
    """JSON list of ``{"name", "token", "base_url", "accounts"}``: more tokens, each with its accounts, beside the
    single-token settings (which make the source named ``default``)."""
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
    media: Annotated[tuple[str, ...], NoDecode] = ("images", "videos")
    """Comma-separated lists watched: ``images``, ``videos`` (each costs one request per account and poll)."""
    stall_after_s: float = Field(900.0, ge=1)
    """An image or video not final this long after its creation gets one ``*.stalled`` event."""

    @field_validator("media", mode="before")
    @classmethod
    def _media(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip().lower() for part in value.split(",") if part.strip()]
        names = list(dict.fromkeys(value))
        if not names or any(name not in ("images", "videos") for name in names):
            raise ValueError("must be a comma-separated list of: images, videos")
        return tuple(names)

    @field_validator("accounts", mode="before")
    @classmethod
    def _accounts(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        try:
            return check_account_emails(value)
        except ValueError:
            raise ValueError("must be a comma-separated list of account emails") from None

    @field_validator("sources", mode="before")
    @classmethod
    def _sources(cls, value: Any) -> Any:
        return json_setting(value, list, 'list of {"name", "token", "base_url", "accounts"} objects')

    @field_validator("sources")
    @classmethod
    def _source_names(cls, value: list[SourceConfig]) -> list[SourceConfig]:
        names = [source.name for source in value]
        if DEFAULT_SOURCE in names:
            raise ValueError(f"the name {DEFAULT_SOURCE!r} is the single-token settings' source: choose another")
        if len(names) != len(set(names)):
            raise ValueError("two sources have the same name")
        return value

    @field_validator("useapi_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return check_upstream_url(value)

    @field_validator("useapi_token")
    @classmethod
    def _token(cls, value: SecretStr) -> SecretStr:
        check_token(value.get_secret_value())
        return value

    def upstream_sources(self) -> list[SourceConfig]:
        """Every token to poll with: the single-token settings (named ``default``) first, when set."""
        single = []
        if self.useapi_token.get_secret_value():
            single.append(SourceConfig(name=DEFAULT_SOURCE, token=self.useapi_token, base_url=self.useapi_base_url,
                                       accounts=self.accounts))
        return [*single, *self.sources]

    def require_token(self) -> list[SourceConfig]:
        """The sources the poller polls; a ConfigError when there is none."""
        sources = self.upstream_sources()
        if not sources:
            raise ConfigError(f"{ENV_PREFIX}USEAPI_TOKEN is not set (nor {ENV_PREFIX}SOURCES): the poller needs a "
                              "useapi.net API token")
        return sources
