"""The polling loop: which accounts, when, how many at once, and what an error costs.

Each account has its own schedule. A successful poll schedules the next one
``poll_interval_s`` after it started; an error pauses only that account,
exponentially longer with each repeated failure (at least the upstream's
``Retry-After``); a 401 backs off the same way from seconds up to
``upstream_auth_pause_s``, so that a blip costs seconds, not minutes. An error
is logged when it starts or changes, not on every retry, and recovery is
logged once. Schedules run on the monotonic clock: a wall clock stepped back
(NTP, a resumed VM) does not stop polling; events carry wall-clock times.

Several pollers may share one Redis (``run_forever``): each polls only its share of the accounts
(:mod:`notifier.polling.shard`) and holds an account's lease while it polls it
(:mod:`notifier.polling.membership`). ``run_cycle`` (``notifier poll-once``) polls every account.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

import redis

from notifier.errors import NotifierError, UpstreamAuthError
from notifier.ops.metrics import metrics
from notifier.polling.handover import claim, resume
from notifier.polling.membership import Membership
from notifier.polling.outcome import CycleResult, log_scan
from notifier.polling.schedule import AccountSchedule, next_interval_s, pause_after_error
from notifier.polling.shard import Share
from notifier.polling.sources import DEFAULT_SOURCE, Source, unit_of
from notifier.runtime.redact import Redactor
from notifier.runtime.redis_checks import Epoch
from notifier.runtime.settings import Settings
from notifier.state.keys import Keys
from notifier.state.tracker import Tracker
from notifier.upstream.client import UpstreamClient
from notifier.upstream.media_scan import scan_media
from notifier.upstream.scan import ScanLimits, ScanResult

log = logging.getLogger(__name__)

_TICK_S = 0.1
REDIS_RETRY_S = 1.0
"""Pause of an account whose poll failed on a Redis error: polling resumes within this of Redis answering."""
class Poller:
    def __init__(
        self,
        settings: Settings,
        upstream: UpstreamClient | None,
        tracker: Tracker | None,
        client: redis.Redis,
        *,
        sources: Sequence[Source] = (),
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._sources = list(sources)
        if upstream is not None and tracker is not None:
            self._sources.insert(0, Source(DEFAULT_SOURCE, upstream, tracker, list(settings.accounts)))
        self._units: dict[str, tuple[Source, str]] = {}
        self._redis = client
        self._keys = Keys(settings.key_prefix)
        self._redactor = Redactor.from_settings(settings)
        self._clock = clock
        """Wall clock: what events and the heartbeat say."""
        self._monotonic = monotonic
        """Schedules: when each account is due."""
        self._rng = rng or random.Random()
        self._schedules: dict[str, AccountSchedule] = {}
        self._accounts: list[str] = []
        self._limits = ScanLimits(
            page_size=settings.page_size,
            max_pages=settings.max_pages,
            max_lookups=settings.max_pages * 5,
            max_age_s=settings.image_max_age_s,
        )
        self.epoch = Epoch(client, settings.key_prefix)
        self._redis_lock = threading.Lock()
        self._redis_failing: set[str] = set()
        self._redis_down_since = 0.0
        self._share = Share("")
        """This poller's accounts (run_forever): read by the pool's threads, replaced whole by the loop."""
        self._pool = ThreadPoolExecutor(max_workers=settings.poll_concurrency, thread_name_prefix="poll")

    @property
    def sources(self) -> list[Source]:
        return self._sources

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        for source in self._sources:
            source.upstream.close()

    def accounts(self, now: float) -> list[str]:
        """Every source's accounts as units (:func:`~notifier.polling.sources.unit_of`), listed again
        every ``accounts_refresh_s`` where they are discovered."""
        units: dict[str, tuple[Source, str]] = {}
        for source in self._sources:
            for account in source.accounts(now, self._settings.accounts_refresh_s,
                                           failed=self._note_failure, succeeded=self._note_success):
                units.setdefault(unit_of(source.name, account), (source, account))
        if units.keys() != self._units.keys():
            # An account that left the list keeps no schedule (it would make the loop wake forever).
            for gone in set(self._schedules) - set(units):
                del self._schedules[gone]
            self._units, self._accounts = units, list(units)
        return self._accounts

    def run_cycle(
        self, *, force: bool = False, backfill: bool = False, on_page: Callable[[str, ScanResult], None] | None = None
    ) -> CycleResult:
        """Poll every due account (every account when ``force``) once, concurrently."""
        now = self._monotonic()
        result = CycleResult()
        due = [
            account
            for account in self.accounts(now)
            if force or self._schedules.setdefault(account, AccountSchedule()).next_poll_at <= now
        ]
        futures = {account: self._pool.submit(self._poll_one, account, backfill, on_page) for account in due}
        for account, future in futures.items():
            scan, error = future.result()
            if scan is not None:
                result.scans.append(scan)
            if error is not None:
                result.errors[account] = error
        self._beat()
        return result

    def _poll_leased(self, unit: str, membership: Membership) -> tuple[ScanResult | None, str | None]:
        """Poll an account under its lease; leave it to the poller that holds the lease, if another does."""
        if unit not in self._share.mine:
            return None, None  # queued before a poller joined and took it: that one polls it now
        schedule = self._schedules.setdefault(unit, AccountSchedule())
        source, email = self._units[unit]
        try:
            later = claim(membership, unit, self._keys.for_source(source.name), email, self._settings,
                          now=self._clock(), monotonic=self._monotonic)
            if later is not None:
                schedule.next_poll_at = later
                return None, None
        except redis.RedisError as exc:
            return None, self._redis_failed(unit, schedule, exc)
        try:
            return self._poll_one(unit, False)
        finally:
            try:
                membership.release(unit)
            except redis.RedisError as exc:  # it lapses by itself within poller_ttl_s
                log.debug("could not release the lease of %s: %s", unit, exc)

    def _poll_one(
        self, unit: str, backfill: bool, on_page: Callable[[str, ScanResult], None] | None = None
    ) -> tuple[ScanResult | None, str | None]:
        account = unit
        source, email = self._units[unit]
        schedule = self._schedules.setdefault(unit, AccountSchedule())
        started = self._clock()
        started_mono = self._monotonic()
        try:
            scan = scan_media(
                source.upstream, source.tracker, email, media=source.tracker.media, limits=self._limits, now=started,
                backfill=backfill, on_page=on_page,
            )
        except redis.RedisError as exc:
            return None, self._redis_failed(account, schedule, exc)
        except NotifierError as exc:
            message = self._note_failure(account, schedule, exc, self._monotonic())
            self._safe_finish(source, email, started, message)
            return None, message
        except Exception as exc:  # a bug must not stop the other accounts
            log.exception("unexpected error while polling %s", account)
            message = self._note_failure(account, schedule, exc, self._monotonic())
            return None, message
        schedule.next_poll_at = started_mono + next_interval_s(scan.active, scan.remaining_s, self._settings)
        metrics().poll_duration.observe(self._monotonic() - started_mono)
        self._note_success(account, schedule)
        self._safe_finish(source, email, started, None)
        log_scan(scan, account)
        return scan, None

    @staticmethod
    def _safe_finish(source: Source, account: str, now: float, error: str | None) -> None:
        try:
            source.tracker.finish_cycle(account, now, error=error)
        except redis.RedisError as exc:
            log.warning("could not record the poll of %s: %s", account, exc)

    def _note_failure(self, account: str, schedule: AccountSchedule, exc: Exception, now: float) -> str:
        schedule.failures += 1
        pause = pause_after_error(exc, schedule.failures, self._settings, self._rng)
        schedule.next_poll_at = now + pause
        # Stored as the account's last_error and shown by `status`: no secret, one line.
        message = self._redactor.one_line(str(exc) or type(exc).__name__)
        kind = f"{type(exc).__name__}: {message}"
        if kind != schedule.last_error:
            level = logging.ERROR if isinstance(exc, UpstreamAuthError) else logging.WARNING
            log.log(level, "%s: %s; next try in %.0f s", account, message, pause, extra={"account": account})
        else:
            log.debug("%s: still failing (%d): %s", account, schedule.failures, message)
        schedule.last_error = kind
        return message

    def _redis_failed(self, account: str, schedule: AccountSchedule, exc: redis.RedisError) -> str:
        """Redis, not the upstream, failed: try again soon (no upstream back-off) and stop checking in."""
        schedule.next_poll_at = self._monotonic() + REDIS_RETRY_S
        message = f"Redis unavailable ({type(exc).__name__}: {exc})"
        with self._redis_lock:
            if not self._redis_failing:
                log.error("%s; polling waits for it (tried again every %.0f s)", message, REDIS_RETRY_S)
                self._redis_down_since = self._monotonic()
            self._redis_failing.add(account)
        return message

    def _note_success(self, account: str, schedule: AccountSchedule) -> None:
        with self._redis_lock:
            if account in self._redis_failing:
                self._redis_failing.discard(account)
                if not self._redis_failing:
                    log.warning("Redis answers again: polling resumed after %.0f s",
                                self._monotonic() - self._redis_down_since)
        if schedule.failures:
            log.info("%s: polling again after %d failed tries", account, schedule.failures)
        schedule.failures = 0
        schedule.last_error = None

    def _beat(self) -> None:
        with self._redis_lock:
            self._redis_failing &= set(self._accounts)  # an account no longer polled cannot recover
            if self._redis_failing:
                return  # state cannot be written: let /readyz see a poller that is not working
        try:
            self.epoch.check()
            self._redis.set(self._keys.heartbeat("poller"), f"{self._clock():.3f}", ex=3600)
        except redis.RedisError as exc:
            log.warning("Redis unavailable: %s", exc)

    def run_forever(self, stop: threading.Event, membership: Membership | None = None) -> None:
        """Poll each of this poller's accounts when it is due. A slow account holds only its own slot."""
        membership = membership or Membership(self._redis, self._keys, self._settings.poller_ttl_s)
        check_in_s = self._settings.poller_ttl_s / 5
        log.info("poller %s started: every %.1f s, up to %d accounts at once", membership.id,
                 self._settings.poll_interval_s, self._settings.poll_concurrency)
        if not self._settings.all_sinks():
            log.info("no webhook, Slack or Discord configured: events are logged here, not sent")
        in_flight: dict[str, Future[tuple[ScanResult | None, str | None]]] = {}
        live = [membership.id]
        self._share = Share(membership.id)
        last_beat = last_check_in = -check_in_s
        while not stop.is_set():
            now = self._monotonic()
            if now - last_check_in >= check_in_s:
                live = membership.check_in_and_renew(live, list(in_flight))
                last_check_in = now
            units = self.accounts(now)
            share = self._share.update(live, units)
            if share is not self._share:
                self._resume([u for u in share.mine if u not in self._share.mine and u not in in_flight])
                self._share = share
            for unit in units:
                schedule = self._schedules.setdefault(unit, AccountSchedule())
                if unit in share.mine and unit not in in_flight and schedule.next_poll_at <= now:
                    in_flight[unit] = self._pool.submit(self._poll_leased, unit, membership)
            for unit in [u for u, f in in_flight.items() if f.done()]:
                in_flight.pop(unit)
            if now - last_beat >= 1.0:
                self._beat()
                last_beat = now
            waiting = [self._schedules[u].next_poll_at for u in share.mine if u not in in_flight
                       and u in self._schedules]
            next_due = min(waiting, default=now + check_in_s)
            # Wake for the next due account, and often enough to see in-flight polls finish.
            stop.wait(min(max(0.01, next_due - self._monotonic()), _TICK_S))
        for future in in_flight.values():
            future.cancel()
        try:
            membership.leave()
        except redis.RedisError as exc:
            log.warning("could not hand the accounts over (Redis: %s): they move within %.0f s", exc,
                        self._settings.poller_ttl_s)
        log.info("poller stopped")

    def _resume(self, gained: list[str]) -> None:
        """Accounts new to this poller are first polled one interval after their last poll, wherever made."""
        if gained:
            resume(self._redis, self._settings, {u: self._units[u] for u in gained}, self._schedules,
                   now=self._clock(), monotonic=self._monotonic)
