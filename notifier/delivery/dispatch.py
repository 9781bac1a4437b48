"""The dispatch job: one running dispatcher per sink drains that sink's outbox, in order per item.

Every poll that routes events to a sink adds them to the sink's outbox (:mod:`notifier.delivery.outbox`)
and enqueues one dispatch job. The job that takes the sink's dispatcher lease reads the outbox in order
and keeps up to ``delivery_concurrency`` requests in flight to a webhook, feeding a new request as each
answer comes back: page sizes, polls and batch boundaries do not limit it. A job that finds the lease
taken ends at once: the running dispatcher reads the outbox again before it lets go of the lease.

Why one dispatcher per sink rather than several jobs sharing a per-sink semaphore in Redis: the in-flight
limit is then a plain asyncio semaphore (no Redis round trip per request, no slots leaked by a killed
worker), a burst costs one RQ job instead of one per page, and the order of an item's events is decided by
one reader of the outbox. What it costs: one sink's burst uses one worker process (about one core), which
is what a sink gets anyway once its receiver is the limit.

Order, per item and sink: an entry goes only when it can hold its item (no earlier event of that item
is being delivered or retried, see ``Outbox.claim``); otherwise it stays, and every later entry of
that item with it, until the hold ends and the outbox is read again.

What each answer means is decided in one place, :func:`settle`: delivered (the hold ends), a retry
(a single-delivery job under the usual policy, keeping the hold), or failed for good (filed in the failed
registry with its reason; the hold ends). Chat sinks and rate-limited webhooks are not sent from here:
each claimed entry becomes a single-delivery job (their rate limits, 429 waits and fallbacks live
there), which ends its hold when it is settled.

A dispatcher stops taking entries when its time is up (well within the job timeout), when the sink is
found unreachable (the circuit opens, as for single deliveries), or when it lost its lease; what it
left in the outbox is picked up by a new dispatch job. A worker killed mid-dispatch leaves its entries
in the outbox: the job is found abandoned and runs again, so they are sent again, with the same
``webhook-id`` (at least once).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field

import aiohttp
from rq import Queue, Retry

from notifier.delivery.batch import build_or_error, follow_up, single_job_kwargs
from notifier.delivery.circuit import OPEN_FOR_S
from notifier.delivery.context import DeliveryContext, current_context
from notifier.delivery.enqueue import JOB_FUNC, kick, make_queue
from notifier.delivery.outbox import Entry
from notifier.delivery.policy import detected_at
from notifier.delivery.sinks import Sink
from notifier.delivery.sinks.base import SinkResponse
from notifier.delivery.sinks.bulk import Result, post
from notifier.errors import DeliveryError
from notifier.ops.metrics import metrics
from notifier.state.keys import Keys

log = logging.getLogger(__name__)

RECHECK_S = 60
"""When only held entries are left, the outbox is read again this long after (a hold may expire)."""
UNREACHABLE_TRIP = 5
"""Unreachable answers in a row (with none answered in between) that open the sink's circuit."""
RENEW_EVERY_S = 1.0
LEASE_SLACK_S = 3
"""A dispatcher's lease lasts the delivery timeout and 2 s: a look this much past the timeout finds it gone."""
SETTLE_EVERY = 32


@dataclass
class _Run:
    ctx: DeliveryContext
    sink: Sink
    lease_key: str
    token: str
    deadline: float
    queue: Queue
    renewed: float = field(default_factory=time.monotonic)
    lost: bool = False
    tripped: bool = False
    again: bool = False
    wake: int = 0
    """The outbox's wake counter when the last pass began."""
    unreachable: int = 0
    answered: int = 0

    def stopping(self) -> bool:
        return self.lost or self.tripped or time.monotonic() > self.deadline

    def keep_lease(self) -> None:
        if time.monotonic() - self.renewed >= RENEW_EVERY_S:
            self.renewed = time.monotonic()
            self.lost = self.lost or not self.ctx.guard.renew(self.lease_key, self.token)


def budget_s(job_timeout_s: int, delivery_timeout_s: float) -> float:
    """How long a dispatcher takes new entries: its last requests and their bookkeeping must end within
    its job timeout. Pure."""
    return max(1.0, job_timeout_s - delivery_timeout_s - 5.0)


def dispatch(sink_name: str) -> None:
    """The RQ job: drain ``sink_name``'s outbox if no other dispatcher is on it."""
    ctx = current_context()
    settings = ctx.settings
    queue = make_queue(ctx.store, settings)
    sink = ctx.sinks.get(sink_name)
    if sink is None:
        log.error("dispatch: sink %r is not configured in this process; its outbox waits", sink_name,
                  extra={"sink": sink_name})
        return

    def again(in_s: float = 0.0) -> None:
        kick(queue, sink_name, settings_timeout_s=settings.delivery_job_timeout_s,
             crash_retries=settings.crash_retries, in_s=in_s)

    open_s = ctx.guard.open_for_s(sink_name)
    if open_s > 0:
        again(open_s)
        return
    lease_key = Keys(settings.key_prefix).dispatcher(sink_name)
    token = ctx.guard.acquire(sink_name, lease_key)
    if token is None:
        # The running dispatcher reads the outbox again before it stops; but a lease can outlive its holder's
        # work (its release failed while Redis was away): a look once it has expired, one per sink and 10 s.
        again(math.ceil(settings.delivery_timeout_s) + LEASE_SLACK_S)
        return
    run = _Run(ctx, sink, lease_key, token, time.monotonic() + budget_s(settings.delivery_job_timeout_s,
                                                                       settings.delivery_timeout_s), queue)
    last: str | None = None
    try:
        last = ctx.sessions.run(ctx.egress, settings.delivery_concurrency, settings.delivery_timeout_s,
                                lambda session: _drain(run, session))
    finally:
        ctx.guard.release(sink_name, token, lease_key)
    if run.tripped:
        again(OPEN_FOR_S)
    elif (ctx.outbox.read(sink_name, last, 1) or run.stopping() or run.again
          or ctx.outbox.wake(sink_name) != run.wake):
        again()  # new entries or an ended hold (their own job found this one's lease), or time was up
    elif ctx.outbox.length(sink_name):
        again(RECHECK_S)


async def _drain(run: _Run, session: aiohttp.ClientSession) -> str | None:
    """Passes over the outbox until one sends nothing new; the id of the last entry read."""
    ctx, sink = run.ctx, run.sink
    direct = sink.kind == "webhook" and sink.config.rate_per_s is None
    while True:
        run.wake = ctx.outbox.wake(sink.name)
        run.again = False
        last = await _one_pass(run, session, direct)
        if run.stopping() or (not run.again and ctx.outbox.wake(sink.name) == run.wake):
            return last


async def _one_pass(run: _Run, session: aiohttp.ClientSession, direct: bool) -> str | None:
    ctx, sink = run.ctx, run.sink
    settings = ctx.settings
    blocked: set[str] = set()
    slots = asyncio.Semaphore(settings.delivery_concurrency)
    answered: list[tuple[Entry, Result]] = []
    tasks: list[asyncio.Task[None]] = []
    # Answers are settled a few dozen at a time: one Redis round trip for all the delivered ones.
    settle_every = max(1, min(SETTLE_EVERY, settings.delivery_concurrency // 4))

    async def send(entry: Entry) -> None:
        try:
            answered.append(await _send(session, sink, entry, settings.delivery_timeout_s))
        finally:
            slots.release()

    after: str | None = None
    while not run.stopping():
        entries = ctx.outbox.read(sink.name, after, max(settings.delivery_batch_size, 1))
        if not entries:
            break
        after = entries[-1].entry_id
        fresh = [entry for entry in entries if entry.item not in blocked]
        go = ctx.outbox.claim(sink.name, fresh)
        handed: list[Entry] = []
        for entry, ok in zip(fresh, go, strict=True):
            if not ok:
                blocked.add(entry.item)  # later entries of this item wait too
            elif not direct:
                handed.append(entry)
            else:
                await slots.acquire()
                if len(answered) >= settle_every:
                    _settle_all(run, _take(answered))
                tasks.append(asyncio.create_task(send(entry)))
        _hand_off(run, handed)
        tasks = [task for task in tasks if not task.done()]
        run.keep_lease()
    await asyncio.gather(*tasks)
    _settle_all(run, _take(answered))
    return after


def _take(answered: list[tuple[Entry, Result]]) -> list[tuple[Entry, Result]]:
    taken = list(answered)
    answered.clear()
    return taken


async def _send(session: aiohttp.ClientSession, sink: Sink, entry: Entry, timeout_s: float) -> tuple[Entry, Result]:
    request = build_or_error(sink, entry.event, time.time())
    if isinstance(request, DeliveryError):
        return entry, request
    return entry, await post(session, request, timeout_s)


def _hand_off(run: _Run, entries: list[Entry]) -> None:
    """Claimed entries of a sink sent one job at a time: each becomes a single-delivery job."""
    if not entries:
        return
    ctx = run.ctx
    with ctx.store.pipeline() as pipe:
        for entry in entries:
            kwargs = single_job_kwargs(ctx, run.sink, entry.event, 0)
            run.queue.enqueue(JOB_FUNC, retry=Retry(max=ctx.settings.crash_retries), pipeline=pipe, **kwargs)
        ctx.outbox.remove(run.sink.name, [entry.entry_id for entry in entries], pipe)
        pipe.execute()


def _settle_all(run: _Run, results: list[tuple[Entry, Result]]) -> None:
    if not results:
        return
    ctx, sink = run.ctx, run.sink
    delivered = [(entry, result) for entry, result in results if isinstance(result, SinkResponse)]
    if delivered:
        # The hot path in two commands: end each hold, then drop the entries.
        run.again = ctx.outbox.release_all(sink.name, [entry for entry, _ in delivered]) > 0 or run.again
        ctx.outbox.remove(sink.name, [entry.entry_id for entry, _ in delivered])
    # Every attempt, as the batch and single jobs record theirs (one hand-over for all).
    ctx.log_attempts(sink.name, [(entry.event, result, settle(run, entry, result)) for entry, result in results])
    run.keep_lease()


def settle(run: _Run, entry: Entry, result: Result) -> float | None:
    """The one place where the outcome of a dispatched delivery is known (a delivered one's hold and
    outbox entry are already gone: :func:`_settle_all` does those in bulk). The seconds to its next try
    (None: delivered, or failed for good)."""
    ctx, sink, event = run.ctx, run.sink, entry.event
    fields = {"event_id": event.id, "event_type": event.type, "item": entry.item,
              "image_id": event.data.get("image_id"), "account": event.data.get("email"), "sink": sink.name}
    if isinstance(result, SinkResponse):
        run.unreachable, run.answered = 0, run.answered + 1
        metrics().deliveries.labels(sink.kind, "delivered").inc()
        detected = detected_at(event.timestamp)
        if detected is not None:
            metrics().delivery_latency.labels(sink.kind).observe(max(0.0, time.time() - detected))
        log.info("delivered %s for %s to %s: %d", event.type, entry.item, sink.name, result.status_code, extra=fields)
        return None
    if result.status_code is None and result.retryable:
        run.unreachable += 1
        if run.unreachable >= min(UNREACHABLE_TRIP, run.unreachable + run.answered) and not run.tripped:
            run.tripped = True
            ctx.guard.trip(sink.name)
            log.warning("%s: timed out or could not connect; leaving it alone for %d s", sink.name, OPEN_FOR_S,
                        extra={"sink": sink.name})
    else:
        run.unreachable, run.answered = 0, run.answered + 1
    delay = follow_up(ctx, run.queue, sink, event, result)
    if delay is None:
        run.again = bool(ctx.outbox.release(sink.name, entry.item, event.id)) or run.again
        metrics().deliveries.labels(sink.kind, "failed").inc()
        log.warning("delivery failed for good: %s", result, extra=fields)
    else:
        ctx.outbox.touch(sink.name, entry.item, event.id, delay)
        metrics().deliveries.labels(sink.kind, "retry").inc()
        log.warning("delivery failed (retry in %.1f s): %s", delay, result, extra=fields)
    ctx.outbox.remove(sink.name, [entry.entry_id])
    return delay
