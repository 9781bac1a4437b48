"""A small world for the API, console and CLI tests: a real Redis, a verifying receiver behind two webhooks,
events delivered by the real job functions, and RQ's own worker loop (burst) for what the API enqueues."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import redis
from rq.serializers import JSONSerializer

from notifier.delivery.context import DeliveryContext, install
from notifier.delivery.enqueue import make_enqueuer, make_queue
from notifier.delivery.sinks import build_sinks
from notifier.runtime.settings import Settings
from notifier.state.events import Event, build_event
from notifier.upstream.statuses import resolve
from tests.conftest import SECRET
from tests.support.receiver import Receiver
from workers.deliver import DeliveryJob, DeliveryWorker

_images = itertools.count(1)
ACCOUNT = "artist1@example.com"


def make_event(*, code: int = 1, previous: int | None = 10, account: str = ACCOUNT, now: float,
               prompt: str = "a lighthouse") -> Event:
    image = {"image_id": f"user:1-pixverse:{account}-image:{next(_images)}", "image_status": code, "prompt": prompt}
    before = resolve({"image_status": previous}) if previous is not None else None
    return build_event(image=image, account=account, status=resolve(image), previous=before, now=now)


class World:
    def __init__(self, settings: Settings, client: redis.Redis, receiver: Receiver) -> None:
        self.settings, self.redis, self.receiver = settings, client, receiver
        self.context = DeliveryContext.from_settings(settings, client=client)
        install(self.context)

    def enqueue(self, events: list[Event]) -> None:
        """Through the tracker's enqueuer (one job per event and sink, or batch jobs for a burst)."""
        enqueue = make_enqueuer(make_queue(self.redis, self.settings), list(build_sinks(self.settings).values()),
                                self.settings)
        with self.redis.pipeline() as pipe:
            enqueue(pipe, events)
            pipe.execute()

    def work(self) -> None:
        """Run what is queued (and due) with the delivery worker's own classes, in this process, then stop."""
        worker = DeliveryWorker([make_queue(self.redis, self.settings)], connection=self.redis,
                                serializer=JSONSerializer, job_class=DeliveryJob)
        worker.work(burst=True, with_scheduler=False, logging_level="WARNING")
        if self.context.attempts is not None:
            self.context.attempts.flush()  # what the worker's background thread would write within 0.1 s


def world_settings(make_settings: Callable[..., Settings], receiver: Receiver, redis_url: str,
                   **extra: Any) -> Settings:
    hooks = [{"url": receiver.url, "secret": SECRET, "name": "hook"},
             {"url": receiver.url + "?token=sup3r-s3cret-query", "secret": SECRET, "name": "backup"}]
    return make_settings(redis_url=redis_url, webhooks=hooks, delivery_backoff_base_s=60, **extra)
