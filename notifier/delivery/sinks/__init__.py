"""Destinations of events. One module per kind, all with the same shape:

- ``build_request(event, config, now) -> SinkRequest``: pure, no I/O;
- ``send(client, request, timeout_s) -> SinkResponse``: the call, raising
  :class:`~notifier.errors.DeliveryError` (retryable or permanent). Two kinds need more than an HTTP
  client: ``apprise`` (the egress policy, which it applies to Apprise's own connections) and
  ``slack_bot`` (where each item's thread is, in Redis); :class:`Sink` gives them what they need.

:class:`Sink` binds one configured destination to its module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING

from notifier.delivery.egress import EgressPolicy
from notifier.delivery.sinks import apprise, discord, slack, slack_bot, webhook
from notifier.delivery.sinks.base import SinkRequest, SinkResponse, redact_url
from notifier.errors import DeliveryError
from notifier.runtime.sink_config_chat import AppriseConfig

if TYPE_CHECKING:
    import httpx
    import redis

    from notifier.delivery.threads import ThreadStore
    from notifier.runtime.settings import Settings
    from notifier.runtime.sink_config import SinkConfig
    from notifier.state.events import Event

MODULES: dict[str, ModuleType] = {"webhook": webhook, "slack": slack, "discord": discord, "apprise": apprise,
                                  "slack_bot": slack_bot}


@dataclass(frozen=True)
class Sink:
    config: SinkConfig
    policy: EgressPolicy = field(default_factory=EgressPolicy.build)
    """The egress policy, for the kinds that open their own connections (Apprise)."""
    threads: ThreadStore | None = None
    """Where Slack bots keep each item's thread (None: no threads, one message per event)."""

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def kind(self) -> str:
        return self.config.kind

    def accepts(self, event: Event) -> bool:
        return self.config.accepts(event.type, event.data)

    def build_request(self, event: Event, now: float) -> SinkRequest:
        request: SinkRequest = MODULES[self.kind].build_request(event, self.config, now)
        return request

    def send(self, client: httpx.Client, request: SinkRequest, timeout_s: float) -> SinkResponse:
        if self.kind == "apprise":
            assert isinstance(self.config, AppriseConfig)
            try:
                return apprise.send(request, timeout_s, policy=self.policy)
            except DeliveryError as exc:
                exc.max_attempts = self.config.max_attempts
                raise
        if self.kind == "slack_bot":
            return slack_bot.send(client, request, timeout_s, threads=self.threads, sink=self.name)
        response: SinkResponse = MODULES[self.kind].send(client, request, timeout_s)
        return response

    def redacted(self) -> str:
        """How the sink is shown to people: kind, name and host only (the URL may hold a token)."""
        where = self.config.where() if isinstance(self.config, AppriseConfig) else redact_url(self.config.url)
        return f"{self.kind} {self.name} ({where})"


def build_sinks(settings: Settings, store: redis.Redis | None = None) -> dict[str, Sink]:
    """Every configured sink; with ``store``, Slack bots keep their threads in it."""
    policy = EgressPolicy.from_settings(settings)
    threads = None
    if store is not None and settings.all_slack_bots():
        from notifier.delivery.threads import ThreadStore
        from notifier.state.keys import Keys

        threads = ThreadStore(store, Keys(settings.key_prefix), settings.slack_thread_ttl_s)
    return {config.name: Sink(config, policy, threads) for config in settings.all_sinks()}


__all__ = ["Sink", "SinkRequest", "SinkResponse", "build_sinks"]
