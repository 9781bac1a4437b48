"""What one worker process reuses across delivery jobs: settings, sinks, one HTTP client, Redis."""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field

import httpx
import redis

from notifier.delivery import egress, egress_hooks
from notifier.delivery.attempt_log import AttemptLog
from notifier.delivery.attempt_record import build_attempt
from notifier.delivery.circuit import SinkGuard
from notifier.delivery.outbox import Outbox, hold_ttl_s
from notifier.delivery.ratelimit import RateLimiter
from notifier.delivery.sinks import Sink, build_sinks
from notifier.delivery.sinks.base import SinkResponse
from notifier.delivery.sinks.bulk import Sessions
from notifier.errors import DeliveryError
from notifier.runtime.connection import connect
from notifier.runtime.redact import Redactor
from notifier.runtime.settings import Settings, load_settings
from notifier.state.events import Event
from notifier.state.keys import Keys


@dataclass
class DeliveryContext:
    """What one worker process reuses across jobs: settings, sinks, one HTTP client, Redis."""

    settings: Settings
    sinks: dict[str, Sink]
    client: httpx.Client
    """Every connection it opens goes through the egress policy."""
    rng: random.Random
    store: redis.Redis
    limiter: RateLimiter
    guard: SinkGuard
    egress: egress.EgressPolicy
    redactor: Redactor
    outbox: Outbox
    attempts: AttemptLog | None = None
    """Where every delivery attempt is recorded (None: nowhere)."""

    sessions: Sessions = field(default_factory=Sessions)
    """The dispatcher's event loop and aiohttp session, kept across jobs."""

    def log_attempts(self, sink_name: str, tries: list[tuple[Event, SinkResponse | DeliveryError, float | None]]
                     ) -> None:
        """Record a job's tries in one round trip: (event, its answer or failure, seconds to its next try)."""
        if self.attempts is None or not tries:
            return
        now = time.time()
        self.attempts.record([
            (build_attempt(
                event_id=event.id, payload=event.payload(), sink=sink_name, now=now,
                status=result.status_code if isinstance(result, SinkResponse) else None,
                latency_s=result.elapsed_s if isinstance(result, SinkResponse) else None,
                error=result if isinstance(result, DeliveryError) else None,
                next_try_s=next_try_s, redact=self.redactor.one_line,
            ), event.payload())
            for event, result, next_try_s in tries
        ])

    @classmethod
    def from_settings(cls, settings: Settings, client: redis.Redis | None = None) -> DeliveryContext:
        connection = client if client is not None else connect(settings)
        policy = egress.EgressPolicy.from_settings(settings)
        http = egress_hooks.client(policy, max_connections=32)
        return cls(
            settings=settings,
            sinks=build_sinks(settings, connection),
            client=http,
            rng=random.Random(),
            store=connection,
            limiter=RateLimiter(connection, Keys(settings.key_prefix)),
            # A send ends within the delivery timeout: a lease older than that belongs to a dead worker,
            # and expires before RQ notices the abandoned job (job timeout + grace is longer).
            guard=SinkGuard(connection, Keys(settings.key_prefix), math.ceil(settings.delivery_timeout_s) + 2),
            egress=policy,
            redactor=Redactor.from_settings(settings),
            outbox=make_outbox(connection, settings),
            attempts=AttemptLog(connection, Keys(settings.key_prefix), ttl_s=settings.attempt_log_ttl_s,
                                max_events=settings.attempt_log_max_events) if settings.attempt_log else None,
        )


def make_outbox(client: redis.Redis, settings: Settings) -> Outbox:
    return Outbox(client, Keys(settings.key_prefix),
                  hold_ttl_s(settings.delivery_backoff_max_s, settings.delivery_job_timeout_s))


_context: DeliveryContext | None = None


def install(context: DeliveryContext | None) -> None:
    global _context
    _context = context


def current_context() -> DeliveryContext:
    global _context
    if _context is None:
        # A worker started by plain `rq worker` rather than `notifier worker`.
        _context = DeliveryContext.from_settings(load_settings())
    return _context
