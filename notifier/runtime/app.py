"""Builds the long-lived parts from the settings; nothing here runs at import time."""

from __future__ import annotations

import redis

from notifier.delivery import egress, egress_hooks
from notifier.delivery.enqueue import make_enqueuer, make_queue
from notifier.delivery.sinks import build_sinks
from notifier.polling.poller import Poller
from notifier.polling.sources import Source
from notifier.runtime.connection import connect
from notifier.runtime.settings import Settings
from notifier.state.keys import DEFAULT_SOURCE, Keys
from notifier.state.tracker import Tracker
from notifier.upstream.client import UpstreamClient

__all__ = ["build_poller", "build_tracker", "connect"]


def build_tracker(settings: Settings, client: redis.Redis, source: str = DEFAULT_SOURCE) -> Tracker:
    queue = make_queue(client, settings)
    sinks = list(build_sinks(settings).values())
    return Tracker(
        client,
        Keys(settings.key_prefix, source),
        enqueue=make_enqueuer(queue, sinks, settings),
        max_age_s=settings.image_max_age_s,
        known_ttl_s=settings.known_ttl_s,
        stall_after_s=settings.stall_after_s,
        media=settings.media,
    )


def build_poller(settings: Settings, client: redis.Redis) -> Poller:
    """A poller over every source: each token has its own client (connections, errors) and state keys."""
    policy = egress.EgressPolicy.from_settings(settings)
    sources = [
        Source(
            config.name,
            UpstreamClient(
                config.base_url,
                config.token.get_secret_value(),
                timeout_s=settings.upstream_timeout_s,
                transport=egress_hooks.transport(policy, max_connections=settings.poll_concurrency * 2),
            ),
            build_tracker(settings, client, config.name),
            list(config.accounts),
        )
        for config in settings.require_token()
    ]
    return Poller(settings, None, None, client, sources=sources)
