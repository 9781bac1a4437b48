"""One poll of one account: read pages newest first, stop as soon as nothing more can be learnt.

The number of upstream requests grows with the account's active and new
images, not with its history:

- a page is read; its images are applied to the tracker (events are enqueued
  there, atomically with the state);
- paging stops at the end of the list, or when every tracked image has been
  seen and the page brought nothing new, or when a page held neither a new
  nor a tracked image (we are into finished history);
- a first poll (baseline) reads on while pages hold images younger than the
  age limit, so that recent history is recorded, not announced later;
- a poll that reaches ``max_pages`` with more to read leaves a cursor, and the
  next poll resumes there after reading the top of the list: a burst larger
  than one poll's pages is announced over several polls, never dropped;
- tracked images that did not show up are looked up one by one, least
  recently checked first: a 404 "deleted" there means the image was deleted.

An idle account with any amount of history costs one request per poll and medium (images, videos: the
same scan over each medium's list, with its own state).

A video's lookup answers 404 while it is still processing as well as after its deletion, so there a 404
alone says nothing: the video is deleted only when a read of the list in the same poll went past where
it was (older items, or the list's end) without showing it. When no read went that far, the rest of the
page budget reads on from where the top read stopped; without the budget, it is decided by a later poll.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from notifier.errors import UpstreamNotFound
from notifier.state.keys import NO_EMAIL
from notifier.state.tracker import Cursor, Observation, Tracker
from notifier.state.transitions import Mode, created_at, is_history, is_old
from notifier.upstream.absence import PageView, excludes, locate
from notifier.upstream.client import Page, UpstreamClient
from notifier.upstream.media import IMAGES, Medium
from notifier.upstream.scan_result import (
    ScanLimits,
    ScanResult,
    is_deletion,
    note_active,
    remaining_s,
)
from notifier.upstream.statuses import NO_INFORMATION, deleted, resolve
from notifier.upstream.sweep import Sweep

__all__ = ["ScanLimits", "ScanResult", "is_deletion", "remaining_s", "scan_account"]

log = logging.getLogger(__name__)

MAX_CURSORS = 8  # regions still to read after bursts; the deepest of more than this many are merged
PROBE_PAGES_MIN = 10
"""Pages a poll may read to find where videos that answer 404 would be (at least; else ``max_pages``)."""


class _Scan:
    def __init__(self, upstream: UpstreamClient, tracker: Tracker, account: str, limits: ScanLimits, now: float,
                 backfill: bool, on_page: Callable[[str, ScanResult], None] | None, medium: Medium) -> None:
        tracker = tracker.for_medium(medium)
        self.upstream, self.tracker, self.account, self.limits, self.now = upstream, tracker, account, limits, now
        self.medium = medium
        self.views: list[PageView] = []
        """Every list page this poll read: where videos that answer 404 would be (:mod:`.absence`)."""
        self.total: int | None = None
        self.state = tracker.account_state(account)
        self.mode = Mode.BACKFILL if backfill else Mode.NORMAL if self.state.baselined_at is not None else Mode.BASELINE
        self.email = None if account == NO_EMAIL else account
        self.result = ScanResult(account=account, mode=self.mode)
        self.seen: set[str] = set()
        self.remaining = set(self.state.tracked)
        self.on_page = on_page
        self.pages_left = limits.max_pages
        self.passed: set[str] = set()
        """Images a read of this poll went on past (or the list's end): a cursor whose boundary is among
        them needs no resuming."""

    def sweep(self, sweep: Sweep) -> bool:
        """Read pages from ``sweep.offset`` on; True when the page budget ran out with more to read."""
        while True:
            self.pages_left -= 1
            page = self.upstream.list_images(self.email, limit=self.limits.page_size, offset=sweep.offset,
                                             medium=self.medium)
            self.result.requests += 1
            self.result.pages += 1
            self.result.skipped_items += page.skipped
            sweep.total = page.total  # as of the last page: the one the offset reached goes with
            ids = [img[self.medium.id_field] for img in page.images]
            if not sweep.passed:
                if sweep.overshot(ids, page.images):
                    # Deletions above moved the unread region up past where we started: step back.
                    sweep.offset = max(0, sweep.offset - self.limits.page_size)
                    sweep.stepped_back += 1
                    if self.pages_left <= 0:
                        return True
                    continue
                sweep.passed = sweep.past(ids, page.images)
            deeper = sweep.deepen(ids, page.images)
            interesting, had_tracked = self.apply(page.images, sweep.mode or self.mode)
            consumed = len(page.images) + page.skipped
            self.note(page, sweep.offset)
            sweep.offset += consumed
            # The end of the list; ``total`` may be stale, so a full page never says so.
            if consumed == 0 or (consumed < self.limits.page_size and page.total is not None
                                 and sweep.offset >= page.total):
                self.passed.update(sweep.read)
                return False
            # A page that did not go deeper than this read had (new images above pushed what it read down)
            # says nothing of what lies beyond; neither does one before the boundary of a resumed read.
            news = (sweep.mode or self.mode) is Mode.BACKFILL or not sweep.passed or not deeper or interesting
            if not news and (not sweep.follow_tracked or not self.remaining or not had_tracked):
                self.passed.update(sweep.above())
                return False
            if self.pages_left <= 0:
                self.passed.update(sweep.above())
                return True

    def apply(self, images: list[dict[str, Any]], mode: Mode) -> tuple[bool, bool]:
        key = self.medium.id_field
        fresh = [img for img in images if img[key] not in self.seen]
        self.seen.update(img[key] for img in fresh)
        self.result.seen = len(self.seen)
        observations = [Observation(img, resolve(img, self.medium), self.medium) for img in fresh]
        informative = [obs for obs in observations if obs.status.informative]
        note_active(self.result, informative, self.now)
        applied = self.tracker.apply(self.account, observations, mode=mode, now=self.now,
                                     history_before=self.state.baselined_at)
        self.result.events.extend(applied.events)
        if self.on_page is not None:
            self.on_page(self.account, self.result)
        had_tracked = any(obs.image_id in self.remaining for obs in informative)
        # An image shown without a status said nothing: it stays due for a lookup.
        self.remaining.difference_update(obs.image_id for obs in informative)
        new = set(applied.new_ids)
        # An image never seen that shows no status is no sign of history: it may be news once it shows one,
        # and what lies below it is unread. (History shown without a status, created before the first poll,
        # is history all the same.)
        silent = set(applied.unknown_silent)
        if any(not is_old(obs.image, self.now, self.limits.max_age_s)
               and not is_history(obs.image, self.state.baselined_at)
               for obs in observations if obs.image_id in silent):
            return True, had_tracked
        if mode is Mode.BASELINE:
            # A first poll records recent history (and what is in progress) so that none of it is news later.
            interesting = any(not is_old(obs.image, self.now, self.limits.max_age_s) for obs in informative)
        else:
            # Unknown but old images are history we had not paged through, not news.
            interesting = any(not is_old(obs.image, self.now, self.limits.max_age_s)
                              for obs in informative if obs.image_id in new)
        return interesting, had_tracked

    def cursor_of(self, sweep: Sweep) -> Cursor | None:
        if sweep.last is None:
            return None
        return Cursor(offset=sweep.offset, total=sweep.total, boundary=sweep.last[0], boundary_created=sweep.last[1],
                      baseline=(sweep.mode or self.mode) is Mode.BASELINE)

    def resume(self, cursor: Cursor, top_total: int | None, floor: int) -> Sweep:
        # Start a page before where the last read stopped, earlier still when ``total`` shrank (deletions
        # above move the region up). New images on top move it down: then the read starts early and goes
        # on until it is past the boundary. Starting early costs pages; starting late would skip images.
        # ``floor`` is where this poll's previous read stopped, on ground read before: cursors are kept
        # newest first, so this one's boundary lies below it.
        shrink = top_total - cursor.total if top_total is not None and cursor.total is not None else 0
        start = max(0, cursor.offset - self.limits.page_size + min(0, shrink), floor - self.limits.page_size)
        return Sweep(offset=start, boundary=cursor.boundary, boundary_created=cursor.boundary_created, passed=False,
                      mode=Mode.BASELINE if cursor.baseline else None, follow_tracked=False)

    def note(self, page: Page, offset: int) -> None:
        key = self.medium.id_field
        created = tuple(c for img in page.images if (c := created_at(img)) is not None)
        # Only an empty answer ends the list for sure: a short page or a stale ``total`` may not.
        at_end = not page.images and not page.skipped
        self.views.append(PageView(frozenset(img[key] for img in page.images), created, offset == 0, at_end))
        self.total = page.total if page.total is not None else self.total

    def lookups(self) -> None:
        due = self.tracker.lookup_order(self.account, self.remaining, self.limits.max_lookups)
        unsure: list[str] = []
        for image_id in due:
            self.result.requests += 1
            self.result.lookups += 1
            try:
                image = self.upstream.get_image(image_id, self.medium)
                observation = Observation(image, resolve(image, self.medium), self.medium)
            except UpstreamNotFound as exc:
                if not self.medium.lookup_404_is_deletion:
                    unsure.append(image_id)  # processing, or deleted: the list tells
                    continue
                if not is_deletion(exc):
                    log.warning("%s: lookup of %s answered 404 without saying it was deleted (%s): kept",
                                self.account, image_id, exc.detail)
                    continue
                observation = Observation({"image_id": image_id}, deleted())
            self.observe(observation)
        if unsure:
            self.confirm_absence(unsure)
        self.tracker.mark_checked(self.account, due, self.now)

    def observe(self, observation: Observation) -> None:
        # history_before: an item followed without a status may be history (its first status is not news).
        applied = self.tracker.apply(self.account, [observation], mode=Mode.NORMAL, now=self.now,
                                     history_before=self.state.baselined_at)
        self.result.events.extend(applied.events)
        if observation.status.informative:
            note_active(self.result, [observation], self.now)

    def read_view(self, offset: int) -> PageView:
        """One more list page, read for where a video would be. Only its tracked items are applied: the
        items it shows that were never seen are left to the reads that page down to them in order (the stop
        rule and the cursors count on new items lying above the ones seen)."""
        page = self.upstream.list_images(self.email, limit=self.limits.page_size, offset=offset, medium=self.medium)
        self.result.requests += 1
        self.result.pages += 1
        self.note(page, offset)
        self.apply([img for img in page.images if img[self.medium.id_field] in self.state.tracked], self.mode)
        return self.views[-1]

    def confirm_absence(self, unsure: list[str]) -> None:
        """Videos whose lookup answered 404: deleted when a page shows where they would be, without them."""
        created = {i: t.created for i, t in self.tracker.tracked_of(self.account, unsure).items()}
        budget = max(self.limits.max_pages, PROBE_PAGES_MIN)
        for image_id in unsure:
            born = created.get(image_id)
            gone = any(excludes(view, born) for view in self.views)
            if not gone and image_id not in self.seen and born is not None and self.total is not None and budget:
                view, used = locate(self.read_view, born, total=self.total, page_size=self.limits.page_size,
                                    budget=budget)
                budget -= used
                gone = view is not None and image_id not in view.ids and excludes(view, born)
            if image_id in self.seen:
                continue  # on a page read since: applied with it
            # Not shown gone: no information, but time runs for it (stalled, expired).
            self.observe(Observation({self.medium.id_field: image_id}, deleted() if gone else NO_INFORMATION,
                                     self.medium))


def scan_account(
    upstream: UpstreamClient,
    tracker: Tracker,
    account: str,
    *,
    limits: ScanLimits,
    now: float,
    backfill: bool = False,
    on_page: Callable[[str, ScanResult], None] | None = None,
    medium: Medium = IMAGES,
) -> ScanResult:
    """One poll of one account's list of one medium (images by default)."""
    scan = _Scan(upstream, tracker, account, limits, now, backfill, on_page, medium)
    top = Sweep(offset=0, follow_tracked=not scan.state.cursors)
    left: list[Cursor] = []
    if scan.sweep(top) and (cursor := scan.cursor_of(top)) is not None:
        left.append(cursor)
    floor = top.offset
    for old in scan.state.cursors:
        if old.boundary in scan.passed:
            continue  # an earlier read of this poll went past it
        sweep = scan.resume(old, top.total, floor)
        if scan.pages_left <= 0:
            # Not read this time; where the reads of this poll stopped is where the next one starts looking.
            left.append(replace(old, offset=sweep.offset + limits.page_size, total=top.total))
            continue
        capped = scan.sweep(sweep)
        floor = max(floor, sweep.offset)
        if capped:
            if sweep.passed:
                left.append(scan.cursor_of(sweep) or old)
            else:
                # Not back at where the last read stopped yet: keep looking for the same boundary from here.
                left.append(Cursor(offset=sweep.offset, total=sweep.total, boundary=old.boundary,
                                   boundary_created=old.boundary_created, baseline=old.baseline))
    if len(left) > MAX_CURSORS:
        # Merged: read from the shallowest of them, on past the deepest one's boundary.
        merged = left[MAX_CURSORS - 1:]
        left = [*left[:MAX_CURSORS - 1], replace(merged[0], boundary=merged[-1].boundary,
                                                 boundary_created=merged[-1].boundary_created,
                                                 baseline=all(c.baseline for c in merged))]
    if left:
        scan.result.capped = True
        log.warning("%s: %d page(s) read and more to come; the next poll resumes at offset %d",
                    account, scan.result.pages, min(c.offset for c in left))
    if left or scan.state.cursors:
        scan.tracker.save_cursors(account, left)
    scan.lookups()
    return scan.result
