"""One poll of one account: read pages newest first, stop as soon as nothing more can be learnt.

The number of upstream requests grows with the account's active and new
images, not with its history:

- a page is read; its images are applied to the tracker (events are enqueued
  there, atomically with the state);
- paging stops at the end of the list, or when every tracked image has been
  seen and the page brought nothing new, or when a page held neither a new
  nor a tracked image (we are into finished history);
- tracked images that did not show up are fetched one by one: a 404 there
  means the image was deleted.

An idle account with any amount of history costs one request per poll.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from notifier.errors import UpstreamNotFound
from notifier.state.events import Event
from notifier.state.keys import NO_EMAIL
from notifier.state.tracker import Observation, Tracker
from notifier.state.transitions import Mode, created_at, is_old
from notifier.upstream.client import UpstreamClient
from notifier.upstream.statuses import deleted, resolve

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ScanResult:
    account: str
    mode: Mode
    requests: int = 0
    pages: int = 0
    seen: int = 0
    events: list[Event] = field(default_factory=list)
    lookups: int = 0
    skipped_items: int = 0
    active: int = 0
    """Images seen in progress (not final) in this poll."""
    remaining_s: list[float | None] = field(default_factory=list)
    """Per active image, the upstream's estimate of the seconds left (None when it gave none)."""


@dataclass(frozen=True, slots=True)
class ScanLimits:
    page_size: int
    max_pages: int
    max_lookups: int
    max_age_s: float


def scan_account(
    upstream: UpstreamClient,
    tracker: Tracker,
    account: str,
    *,
    limits: ScanLimits,
    now: float,
    backfill: bool = False,
    on_page: Callable[[str, ScanResult], None] | None = None,
) -> ScanResult:
    baselined, remaining = tracker.account_state(account)
    mode = Mode.BACKFILL if backfill else Mode.NORMAL if baselined else Mode.BASELINE
    email = None if account == NO_EMAIL else account
    result = ScanResult(account=account, mode=mode)
    seen: set[str] = set()
    offset = 0
    for _ in range(limits.max_pages):
        page = upstream.list_images(email, limit=limits.page_size, offset=offset)
        result.requests += 1
        result.pages += 1
        result.skipped_items += page.skipped
        fresh = [img for img in page.images if img["image_id"] not in seen]
        seen.update(img["image_id"] for img in fresh)
        result.seen = len(seen)
        observations = [Observation(img, resolve(img)) for img in fresh]
        _note_active(result, observations, now)
        applied = tracker.apply(account, observations, mode=mode, now=now)
        result.events.extend(applied.events)
        if on_page is not None:
            on_page(account, result)
        for image_id in applied.gave_up:
            log.warning("image %s of %s is still not final after the age limit: no longer tracked",
                        image_id, account)
        had_tracked = any(obs.image_id in remaining for obs in observations)
        remaining.difference_update(obs.image_id for obs in observations)
        new = set(applied.new_ids)
        if mode is Mode.BASELINE:
            # On a first poll everything is new; only active images are worth another page.
            interesting = any(not obs.status.final for obs in observations if obs.image_id in new)
        else:
            # Unknown but old images are history we had not paged through, not news.
            interesting = any(
                not is_old(obs.image, now, limits.max_age_s) for obs in observations if obs.image_id in new
            )

        consumed = len(page.images) + page.skipped
        if consumed == 0:
            break
        offset += consumed
        if page.total is not None and offset >= page.total:
            break
        if mode is Mode.BACKFILL:
            continue
        if not interesting and (not remaining or not had_tracked):
            break
    for image_id in sorted(remaining)[: limits.max_lookups]:
        result.requests += 1
        result.lookups += 1
        try:
            image = upstream.get_image(image_id)
            observation = Observation(image, resolve(image))
        except UpstreamNotFound:
            observation = Observation({"image_id": image_id}, deleted())
        applied = tracker.apply(account, [observation], mode=Mode.NORMAL, now=now)
        result.events.extend(applied.events)
        _note_active(result, [observation], now)
    return result


def _note_active(result: ScanResult, observations: list[Observation], now: float) -> None:
    for obs in observations:
        if not obs.status.final:
            result.active += 1
            result.remaining_s.append(remaining_s(obs.image, now))


def remaining_s(image: dict[str, Any], now: float) -> float | None:
    """Seconds the upstream expects the image still needs, from ``queue_data``; None when unknown."""
    queue = image.get("queue_data")
    if not isinstance(queue, dict):
        return None
    estimate, started = queue.get("estimated_gen_time"), queue.get("processing_start_time")
    if not isinstance(estimate, int | float) or isinstance(estimate, bool) or not isinstance(started, str):
        return None
    begun = created_at({"created_at": started})
    return None if begun is None else begun + float(estimate) - now
