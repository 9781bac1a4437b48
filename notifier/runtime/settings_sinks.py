"""Settings of the destinations: webhooks, Slack and Discord."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from notifier.runtime.settings_base import SettingsGroup
from notifier.runtime.sink_config import (
    DiscordConfig,
    SinkConfig,
    SlackConfig,
    WebhookConfig,
    check_http_url,
    check_webhook_secrets,
)


class SinkSettings(SettingsGroup):
    """Where events go."""

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

    @field_validator("webhook_secret")
    @classmethod
    def _single_secret(cls, value: SecretStr) -> SecretStr:
        if value.get_secret_value():
            check_webhook_secrets(value.get_secret_value())
        return value

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
