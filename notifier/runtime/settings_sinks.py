"""Settings of the destinations: webhooks, Slack, Discord, Apprise and Slack bots."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from notifier.runtime.checks import json_setting
from notifier.runtime.settings_base import SettingsGroup
from notifier.runtime.sink_config import (
    DiscordConfig,
    SinkConfig,
    SlackConfig,
    WebhookConfig,
    check_headers,
    check_http_url,
    check_webhook_secrets,
)
from notifier.runtime.sink_config_chat import (
    AppriseConfig,
    SlackBotConfig,
    check_apprise_url,
    check_slack_channel,
    check_slack_token,
    split_apprise_urls,
)


class SinkSettings(SettingsGroup):
    """Where events go."""

    webhook_url: str = Field("", repr=False)
    """URL of a single webhook (with ``NOTIFIER_WEBHOOK_SECRET``)."""
    webhook_secret: SecretStr = SecretStr("")
    """Signing secret of ``NOTIFIER_WEBHOOK_URL``; several (space- or comma-separated) while rotating."""
    webhook_headers: Annotated[dict[str, SecretStr], NoDecode] = Field(default_factory=dict, repr=False)
    """JSON object of headers added to every request to ``NOTIFIER_WEBHOOK_URL`` (values are secrets)."""
    webhooks: Annotated[list[WebhookConfig], NoDecode] = Field(default_factory=list)
    """JSON list of ``{"url", "secret", "name", "events", "accounts", "models", "headers", "payload_template"}``."""
    slack_webhook_url: str = Field("", repr=False)
    """One Slack incoming-webhook URL (a secret)."""
    slack_webhooks: Annotated[list[SlackConfig], NoDecode] = Field(default_factory=list)
    """JSON list of ``{"url", "name", "events", "accounts", "models", "title_template", "text_template"}``."""
    discord_webhook_url: str = Field("", repr=False)
    """One Discord webhook URL (a secret)."""
    discord_webhooks: Annotated[list[DiscordConfig], NoDecode] = Field(default_factory=list)
    """JSON list of ``{"url", "name", "events", "accounts", "models", "title_template", "text_template"}``."""
    apprise_urls: str = Field("", repr=False)
    """One Apprise URL (or several, space- or comma-separated: one sink each); secrets."""
    apprise_sinks: Annotated[list[AppriseConfig], NoDecode] = Field(default_factory=list)
    """JSON list of ``{"url", "name", "events", "accounts", "models", "title_template", "text_template",
    "format"}`` for several Apprise destinations."""
    apprise_max_attempts: int = Field(3, ge=1, le=50)
    """Tries of one Apprise delivery: Apprise says only success or failure, so every failure is retried."""
    slack_bot_token: SecretStr = SecretStr("")
    """A Slack bot token (``xoxb-…``): with ``NOTIFIER_SLACK_CHANNEL``, one message per item and a thread."""
    slack_channel: str = ""
    """The channel id the bot of ``NOTIFIER_SLACK_BOT_TOKEN`` writes to."""
    slack_bots: Annotated[list[SlackBotConfig], NoDecode] = Field(default_factory=list)
    """JSON list of ``{"token", "channel", "name", "events", "accounts", "models", "threads", "title_template",
    "text_template"}`` for several Slack bots."""
    slack_api_url: str = "https://slack.com/api"
    """Slack's Web API base URL, for the bots."""
    slack_thread_ttl_s: int = Field(7 * 86400, ge=3600, le=90 * 86400)
    """How long an item's thread is remembered: a later status of the item goes into its thread until then."""

    @field_validator("webhooks", "slack_webhooks", "discord_webhooks", "apprise_sinks", "slack_bots", mode="before")
    @classmethod
    def _sink_lists(cls, value: Any) -> Any:
        return json_setting(value, list, 'list of {"url", ...} objects')

    @field_validator("webhook_headers", mode="before")
    @classmethod
    def _header_object(cls, value: Any) -> Any:
        return json_setting(value, dict, 'object {"Header-Name": "value"}')

    @field_validator("webhook_headers")
    @classmethod
    def _headers(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        return check_headers(value)

    @field_validator("webhook_url", "slack_webhook_url", "discord_webhook_url")
    @classmethod
    def _urls(cls, value: str) -> str:
        return check_http_url(value).rstrip("/") if value else value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return check_http_url(value).rstrip("/")

    @field_validator("apprise_urls")
    @classmethod
    def _apprise_urls(cls, value: str) -> str:
        for url in split_apprise_urls(value):
            check_apprise_url(url)
        return value

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: SecretStr) -> SecretStr:
        return check_slack_token(value) if value.get_secret_value() else value

    @field_validator("slack_channel")
    @classmethod
    def _bot_channel(cls, value: str) -> str:
        return check_slack_channel(value) if value else value

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
            hooks.append(WebhookConfig(url=self.webhook_url, secret=self.webhook_secret, name="webhook",
                                       headers=self.webhook_headers, payload_template=None))
        return hooks

    def all_apprise(self) -> list[AppriseConfig]:
        """``NOTIFIER_APPRISE_SINKS`` and the URLs of ``NOTIFIER_APPRISE_URLS`` (named ``apprise`` when alone)."""
        urls = split_apprise_urls(self.apprise_urls)
        configs = [*self.apprise_sinks, *(AppriseConfig(url=url, name="apprise" if len(urls) == 1 else "")
                                          for url in urls)]
        return [c if "max_attempts" in c.model_fields_set else c.model_copy(
            update={"max_attempts": self.apprise_max_attempts}) for c in configs]

    def all_slack_bots(self) -> list[SlackBotConfig]:
        bots = list(self.slack_bots)
        if self.slack_bot_token.get_secret_value() or self.slack_channel:
            bots.append(SlackBotConfig(url=self.slack_api_url, token=self.slack_bot_token,
                                       channel=self.slack_channel, name="slack_bot"))
        return [b if "url" in b.model_fields_set else b.model_copy(update={"url": self.slack_api_url}) for b in bots]

    def all_sinks(self) -> list[SinkConfig]:
        """Every configured destination, webhooks first."""
        sinks: list[SinkConfig] = [*self.all_webhooks(), *self.slack_webhooks, *self.discord_webhooks]
        if self.slack_webhook_url:
            sinks.append(SlackConfig(url=self.slack_webhook_url, name="slack"))
        if self.discord_webhook_url:
            sinks.append(DiscordConfig(url=self.discord_webhook_url, name="discord"))
        return [*sinks, *self.all_apprise(), *self.all_slack_bots()]
