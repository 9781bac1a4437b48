"""Destinations of events. One module per kind, all with the same shape:

- ``build_request(event, config, now) -> SinkRequest``: pure, no I/O;
- ``send(client, request, timeout_s) -> SinkResponse``: the HTTP call, raising
  :class:`~notifier.errors.DeliveryError` (retryable or permanent).

:class:`Sink` binds one configured destination to its module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from notifier.sinks import webhook
from notifier.sinks.base import SinkRequest, SinkResponse

if TYPE_CHECKING:
    import httpx

    from notifier.events import Event
    from notifier.settings import Settings, WebhookConfig


@dataclass(frozen=True)
class Sink:
    name: str
    kind: str
    config: WebhookConfig

    def accepts(self, event_type: str) -> bool:
        events = self.config.events
        return events is None or "*" in events or event_type in events

    def build_request(self, event: Event, now: float) -> SinkRequest:
        return webhook.build_request(event, self.config, now)

    def send(self, client: httpx.Client, request: SinkRequest, timeout_s: float) -> SinkResponse:
        return webhook.send(client, request, timeout_s)

    def redacted(self) -> str:
        """How the sink is shown to people: kind, name and host only (the URL may hold a token)."""
        return f"{self.kind} {self.name} ({webhook.redact_url(self.config.url)})"


def build_sinks(settings: Settings) -> dict[str, Sink]:
    return {hook.name: Sink(name=hook.name, kind="webhook", config=hook) for hook in settings.all_webhooks()}


def routes(sinks: Sequence[Sink], event_type: str) -> list[Sink]:
    return [sink for sink in sinks if sink.accepts(event_type)]


__all__ = ["Sink", "SinkRequest", "SinkResponse", "build_sinks", "routes"]
