"""Destinations of events. One module per kind, all with the same shape:

- ``build_request(event, config, now) -> SinkRequest``: pure, no I/O;
- ``send(client, request, timeout_s) -> SinkResponse``: the HTTP call, raising
  :class:`~notifier.errors.DeliveryError` (retryable or permanent).

:class:`Sink` binds one configured destination to its module.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from notifier.delivery.sinks import discord, slack, webhook
from notifier.delivery.sinks.base import SinkRequest, SinkResponse, redact_url

if TYPE_CHECKING:
    import httpx

    from notifier.runtime.settings import Settings
    from notifier.runtime.sink_config import SinkConfig
    from notifier.state.events import Event

MODULES: dict[str, ModuleType] = {"webhook": webhook, "slack": slack, "discord": discord}


@dataclass(frozen=True)
class Sink:
    config: SinkConfig

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
        response: SinkResponse = MODULES[self.kind].send(client, request, timeout_s)
        return response

    def redacted(self) -> str:
        """How the sink is shown to people: kind, name and host only (the URL may hold a token)."""
        return f"{self.kind} {self.name} ({redact_url(self.config.url)})"


def build_sinks(settings: Settings) -> dict[str, Sink]:
    return {config.name: Sink(config) for config in settings.all_sinks()}



__all__ = ["Sink", "SinkRequest", "SinkResponse", "build_sinks"]
