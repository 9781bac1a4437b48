"""A worker's delivery context for the job functions' unit tests (fakeredis, or a given store)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import fakeredis
import httpx

from notifier.delivery.context import DeliveryContext, install
from notifier.runtime.settings import Settings


@contextmanager
def installed_context(settings: Settings, store: Any = None,
                      answer: Callable[[httpx.Request], httpx.Response] | None = None) -> Iterator[DeliveryContext]:
    """The context the job functions find, over ``store`` (a new fakeredis when None), with a seeded jitter and,
    given ``answer``, an httpx client that answers every request with it; uninstalled after."""
    context = DeliveryContext.from_settings(settings, client=store if store is not None else fakeredis.FakeRedis())
    if answer is not None:
        context.client = httpx.Client(transport=httpx.MockTransport(answer))
    context.rng = random.Random(0)
    install(context)
    try:
        yield context
    finally:
        install(None)
