"""The polling loop: which accounts, when, how many at once, and what an error costs.

Each account has its own schedule. A successful poll schedules the next one
``poll_interval_s`` after it started; an error pauses only that account,
exponentially longer with each repeated failure (at least the upstream's
``Retry-After``); a 401 backs off the same way from seconds up to
``upstream_auth_pause_s``, so that a blip costs seconds, not minutes. An error
is logged when it starts or changes, not on every retry, and recovery is
logged once. Schedules run on the monotonic clock: a wall clock stepped back
(NTP, a resumed VM) does not stop polling; events carry wall-clock times.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import redis

from notifier.errors import NotifierError, UpstreamAuthError, UpstreamError
from notifier.ops.metrics import metrics
from notifier.polling.schedule import AccountSchedule, next_interval_s, pause_after_error
from notifier.runtime.redact import Redactor
from notifier.runtime.redis_checks import Epoch
from notifier.runtime.settings import Settings
from notifier.state.keys import NO_EMAIL, Keys
from notifier.state.tracker import Tracker
from notifier.upstream.client import UpstreamClient
from notifier.upstream.scan import ScanLimits, ScanResult, scan_account

log = logging.getLogger(__name__)

_TICK_S = 0.1
REDIS_RETRY_S = 1.0
"""Pause of an account whose poll failed on a Redis error: polling resumes within this of Redis answering."""
@dataclass(slots=True)
class CycleResult:
    scans: list[ScanResult] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def events(self) -> int:
        return sum(len(scan.events) for scan in self.scans)

    @property
    def requests(self) -> int:
        return sum(scan.requests for scan in self.scans)


class Poller:
    def __init__(
        self,
        settings: Settings,
        upstream: UpstreamClient,
        tracker: Tracker,
        client: redis.Redis,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self._settings = settings
        self._upstream = upstream
        self._tracker = tracker
        self._redis = client
        self._keys = Keys(settings.key_prefix)
        self._redactor = Redactor.from_settings(settings)
        self._clock = clock
        """Wall clock: what events and the heartbeat say."""
        self._monotonic = monotonic
        """Schedules: when each account is due."""
        self._rng = rng or random.Random()
        self._schedules: dict[str, AccountSchedule] = {}
        self._accounts: list[str] = list(settings.accounts)
        self._accounts_listed_at: float | None = None
        self._accounts_error: AccountSchedule = AccountSchedule()
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
        self._pool = ThreadPoolExecutor(max_workers=settings.poll_concurrency, thread_name_prefix="poll")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._upstream.close()

    def accounts(self, now: float) -> list[str]:
        """Configured accounts, or the upstream's list, listed again every ``accounts_refresh_s``."""
        if self._settings.accounts:
            return self._accounts
        fresh = self._accounts_listed_at is not None and now - self._accounts_listed_at < (
            self._settings.accounts_refresh_s
        )
        if fresh or now < self._accounts_error.next_poll_at:
            return self._accounts
        try:
            listed = self._upstream.list_accounts()
        except UpstreamError as exc:
            self._note_failure("(account list)", self._accounts_error, exc, now)
            return self._accounts
        self._note_success("(account list)", self._accounts_error)
        accounts = listed if listed else [NO_EMAIL]
        if accounts != self._accounts:
            log.info("polling %d account(s)%s", len(accounts), " (no account list: without email)"
                     if listed is None else "")
            # An account that left the list keeps no schedule (it would make the loop wake forever).
            for gone in set(self._schedules) - set(accounts):
                del self._schedules[gone]
        self._accounts, self._accounts_listed_at = accounts, now
        return accounts

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

    def _poll_one(
        self, account: str, backfill: bool, on_page: Callable[[str, ScanResult], None] | None = None
    ) -> tuple[ScanResult | None, str | None]:
        schedule = self._schedules.setdefault(account, AccountSchedule())
        started = self._clock()
        started_mono = self._monotonic()
        try:
            scan = scan_account(
                self._upstream, self._tracker, account, limits=self._limits, now=started, backfill=backfill,
                on_page=on_page,
            )
        except redis.RedisError as exc:
            return None, self._redis_failed(account, schedule, exc)
        except NotifierError as exc:
            message = self._note_failure(account, schedule, exc, self._monotonic())
            self._safe_finish(account, started, message)
            return None, message
        except Exception as exc:  # a bug must not stop the other accounts
            log.exception("unexpected error while polling %s", account)
            message = self._note_failure(account, schedule, exc, self._monotonic())
            return None, message
        schedule.next_poll_at = started_mono + next_interval_s(scan.active, scan.remaining_s, self._settings)
        metrics().poll_duration.observe(self._monotonic() - started_mono)
        self._note_success(account, schedule)
        self._safe_finish(account, started, None)
        for event in scan.events:
            metrics().events.labels(event.type).inc()
            if event.type == "image.unknown":
                log.warning(
                    "image %s of %s has a status the notifier does not know (code %s, name %s): "
                    "announced as image.unknown and still tracked",
                    event.data["image_id"], account, event.data["status_code"], event.data["status"],
                )
            log.info(
                "%s %s: %s -> %s",
                event.type,
                event.data["image_id"],
                event.data["previous_status"] or "(new)",
                event.data["status"],
                extra={"event_id": event.id, "account": account, "event_type": event.type},
            )
        if scan.skipped_items:
            log.warning("%s: %d list item(s) without an image_id were skipped", account, scan.skipped_items)
        return scan, None

    def _safe_finish(self, account: str, now: float, error: str | None) -> None:
        try:
            self._tracker.finish_cycle(account, now, error=error)
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

    def run_forever(self, stop: threading.Event) -> None:
        """Poll each account when it is due. A slow account holds only its own slot, not the others."""
        log.info("poller started: every %.1f s, up to %d accounts at once",
                 self._settings.poll_interval_s, self._settings.poll_concurrency)
        if not self._settings.all_sinks():
            log.info("no webhook, Slack or Discord configured: events are logged here, not sent")
        in_flight: dict[str, Future[tuple[ScanResult | None, str | None]]] = {}
        last_beat = 0.0
        while not stop.is_set():
            now = self._monotonic()
            for account in self.accounts(now):
                schedule = self._schedules.setdefault(account, AccountSchedule())
                if account not in in_flight and schedule.next_poll_at <= now:
                    in_flight[account] = self._pool.submit(self._poll_one, account, False)
            for account in [a for a, f in in_flight.items() if f.done()]:
                in_flight.pop(account)
            if now - last_beat >= 1.0:
                self._beat()
                last_beat = now
            waiting = [s.next_poll_at for a, s in self._schedules.items() if a not in in_flight]
            next_due = min(waiting, default=now + self._settings.poll_interval_s)
            # Wake for the next due account, and often enough to see in-flight polls finish.
            stop.wait(min(max(0.01, next_due - self._monotonic()), _TICK_S))
        for future in in_flight.values():
            future.cancel()
        log.info("poller stopped")
