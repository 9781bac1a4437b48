"""Each image's last seen status, in Redis, changed atomically with the event's delivery jobs.

A page of observations is applied in one WATCH/MULTI transaction: the state
of its images is read, :func:`notifier.state.transitions.decide` says what changed,
and the new state plus every delivery job of the resulting events are written
in the same MULTI/EXEC. Two pollers racing on one account make one of them
retry on fresh state, so a transition is announced exactly once; a crash
before EXEC writes nothing, so the next poll sees the change again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.client import Pipeline

from notifier.errors import NotifierError
from notifier.state.cursor import Cursor
from notifier.state.events import Event, build_event
from notifier.state.keys import NO_EMAIL, Keys
from notifier.state.transitions import Decision, Mode, Tracked, decide
from notifier.upstream.media import IMAGES, MEDIA, Medium
from notifier.upstream.statuses import Status

log = logging.getLogger(__name__)

__all__ = ["AccountState", "ApplyResult", "Cursor", "EnqueueFn", "Observation", "Tracker"]

EnqueueFn = Callable[[Pipeline, Sequence[Event]], None]
"""Adds the delivery jobs of events to a pipeline that is inside MULTI."""

_MAX_CAS_TRIES = 20


@dataclass(frozen=True, slots=True)
class Observation:
    image: dict[str, Any]
    """The item as received: an image, or a video when ``medium`` says so."""
    status: Status
    medium: Medium = IMAGES

    @property
    def image_id(self) -> str:
        return str(self.image[self.medium.id_field])


@dataclass(frozen=True, slots=True)
class AccountState:
    baselined_at: float | None
    """When the account's first complete poll began (None: it has not had one)."""
    tracked: set[str]
    cursors: list[Cursor]


def least_recently_checked(checked: dict[str, float | None], limit: int) -> list[str]:
    """Round robin over tracked images: never looked up first, then the longest ago. Pure."""
    return sorted(checked, key=lambda image_id: (checked[image_id] or 0.0, image_id))[:limit]


@dataclass(slots=True)
class ApplyResult:
    events: list[Event] = field(default_factory=list)
    new_ids: list[str] = field(default_factory=list)
    """Images this account had never shown before."""
    unknown_silent: list[str] = field(default_factory=list)
    """Images never seen with a status that showed none this time either (followed until they show one)."""
    gave_up: list[str] = field(default_factory=list)


class Tracker:
    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        *,
        enqueue: EnqueueFn,
        max_age_s: float,
        known_ttl_s: int,
        stall_after_s: float | None = None,
        medium: Medium = IMAGES,
        media: Sequence[str] = ("images",),
    ) -> None:
        self._redis = client
        self._keys = keys.for_medium(medium.name)
        """Scoped to one source (:meth:`Keys.for_source`): its events carry that source's name; and to one
        medium (:meth:`Keys.for_medium`)."""
        self._enqueue = enqueue
        self._max_age_s = max_age_s
        self._known_ttl_s = known_ttl_s
        self._stall_after_s = stall_after_s
        self.medium = medium
        self.media = tuple(media)
        """Every medium polled: a finished cycle marks each of them polled."""

    def for_medium(self, medium: Medium) -> Tracker:
        """The same tracker over another medium's state (its own keys)."""
        if medium == self.medium:
            return self
        return Tracker(self._redis, self._keys, enqueue=self._enqueue, max_age_s=self._max_age_s,
                       known_ttl_s=self._known_ttl_s, stall_after_s=self._stall_after_s, medium=medium,
                       media=self.media)

    def tracked(self, account: str) -> dict[str, Tracked]:
        raw: dict[bytes, bytes] = self._redis.hgetall(self._keys.tracked(account))  # type: ignore[assignment]
        return {key.decode(): Tracked.load(value) for key, value in raw.items()}

    def tracked_of(self, account: str, image_ids: Sequence[str]) -> dict[str, Tracked]:
        """What is remembered of these tracked items (those no longer tracked are left out)."""
        if not image_ids:
            return {}
        raw: list[bytes | None] = self._redis.hmget(self._keys.tracked(account), list(image_ids))  # type: ignore[assignment]
        return {i: Tracked.load(v) for i, v in zip(image_ids, raw, strict=True) if v is not None}

    def account_state(self, account: str) -> AccountState:
        """What a poll needs to know of the account before its first page: one round trip."""
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.hmget(self._keys.meta(account), ["baselined_at", "cursors"])
            pipe.hkeys(self._keys.tracked(account))
            (baselined, cursors), keys = pipe.execute()
        return AccountState(
            baselined_at=float(baselined) if baselined is not None else None,
            tracked={key.decode() for key in keys},
            cursors=Cursor.load_all(cursors),
        )

    def save_cursors(self, account: str, cursors: Sequence[Cursor]) -> None:
        """Where the next poll resumes reading (empty: nowhere, the account was read to its end)."""
        meta = self._keys.meta(account)
        if cursors:
            self._redis.hset(meta, "cursors", Cursor.dump_all(cursors))
        else:
            self._redis.hdel(meta, "cursors")

    def lookup_order(self, account: str, image_ids: set[str], limit: int) -> list[str]:
        """Up to ``limit`` of these tracked images, least recently looked up first (round robin)."""
        if not image_ids or limit <= 0:
            return []
        ids = sorted(image_ids)
        scores = self._redis.zmscore(self._keys.checked(account), ids)
        return least_recently_checked(dict(zip(ids, scores, strict=True)), limit)

    def mark_checked(self, account: str, image_ids: Sequence[str], now: float) -> None:
        if not image_ids:
            return
        key = self._keys.checked(account)
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.zadd(key, dict.fromkeys(image_ids, now))
            pipe.expire(key, self._known_ttl_s)
            pipe.execute()

    def apply(
        self, account: str, observations: Sequence[Observation], *, mode: Mode, now: float,
        history_before: float | None = None,
    ) -> ApplyResult:
        """Record a page of observations; returns the events whose jobs were enqueued."""
        unique: dict[str, Observation] = {}
        for obs in observations:
            unique.setdefault(obs.image_id, obs)  # pages shift: keep the first (newest) sight
        if not unique:
            return ApplyResult()
        tracked_key, known_key = self._keys.tracked(account), self._keys.known(account)
        ids = list(unique)
        # Most polls change nothing: read without WATCH first, and when nothing changes, only refresh
        # the "seen" times (no state write, no event), which needs no compare-and-set.
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.hmget(tracked_key, ids)
            pipe.zmscore(known_key, ids)
            states, scores = pipe.execute()
        result, decisions = self._decide(account, unique, states, scores, mode, now, history_before)
        if not result.events and not result.new_ids and all(
            d.track == (Tracked.load(state) if state is not None else None)
            for (_, d), state in zip(decisions, states, strict=True)
        ):
            with self._redis.pipeline(transaction=False) as pipe:
                self._refresh(pipe, account, decisions, now)
                pipe.execute()
            return result
        with self._redis.pipeline() as pipe:
            for _ in range(_MAX_CAS_TRIES):
                try:
                    pipe.watch(tracked_key, known_key)  # type: ignore[no-untyped-call]
                    states = pipe.hmget(tracked_key, ids)
                    scores = pipe.zmscore(known_key, ids)
                    result, decisions = self._decide(account, unique, states, scores, mode, now,  # type: ignore[arg-type]
                                                      history_before)
                    pipe.multi()
                    self._write(pipe, account, decisions, now)
                    if result.events:
                        self._enqueue(pipe, result.events)
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue
        raise NotifierError(f"account {account}: state kept changing under {_MAX_CAS_TRIES} tries")

    def _decide(
        self,
        account: str,
        unique: dict[str, Observation],
        states: Sequence[bytes | None],
        scores: Sequence[float | None],
        mode: Mode,
        now: float,
        history_before: float | None,
    ) -> tuple[ApplyResult, list[tuple[Observation, Decision]]]:
        result = ApplyResult()
        decisions: list[tuple[Observation, Decision]] = []
        for obs, state, score in zip(unique.values(), states, scores, strict=True):
            tracked = Tracked.load(state) if state is not None else None
            decision = decide(tracked=tracked, known=score is not None, status=obs.status, image=obs.image,
                              mode=mode, now=now, max_age_s=self._max_age_s, history_before=history_before,
                              stall_after_s=self._stall_after_s)
            decisions.append((obs, decision))
            if score is None and (tracked is None or not tracked.status.informative):
                (result.new_ids if obs.status.informative else result.unknown_silent).append(obs.image_id)
            if decision.gave_up:
                result.gave_up.append(obs.image_id)
            if decision.emit:
                result.events.append(build_event(
                    image=obs.image,
                    account=None if account == NO_EMAIL else account,
                    status=decision.status or obs.status,
                    previous=decision.previous,
                    now=now,
                    seq=decision.seq,
                    source=self._keys.source,
                    medium=obs.medium,
                    kind=decision.kind,
                    timing=decision.timing,
                    age_s=decision.age_s,
                ))
        return result, decisions

    def _write(
        self, pipe: Pipeline, account: str, decisions: list[tuple[Observation, Decision]], now: float
    ) -> None:
        tracked_key = self._keys.tracked(account)
        keep = {obs.image_id: d.track.dump() for obs, d in decisions if d.track is not None and not d.skip}
        drop = [obs.image_id for obs, d in decisions if d.track is None and not d.skip]
        if keep:
            pipe.hset(tracked_key, mapping=keep)  # type: ignore[arg-type]
        if drop:
            pipe.hdel(tracked_key, *drop)
            pipe.zrem(self._keys.checked(account), *drop)
        self._refresh(pipe, account, decisions, now)

    def _refresh(self, pipe: Pipeline, account: str, decisions: list[tuple[Observation, Decision]],
                 now: float) -> None:
        # Tracked images are known by being tracked: only the others go in the known set (memory).
        known = {obs.image_id: now for obs, d in decisions if d.track is None and not d.skip}
        if known:
            pipe.zadd(self._keys.known(account), known)
        pipe.expire(self._keys.tracked(account), self._known_ttl_s)
        pipe.expire(self._keys.known(account), self._known_ttl_s)

    def finish_cycle(self, account: str, now: float, *, error: str | None = None) -> None:
        """Mark the account polled (every medium): baselined (unless it failed), forgotten images trimmed,
        TTLs renewed."""
        with self._redis.pipeline(transaction=False) as pipe:
            for name in dict.fromkeys((*self.media, self.medium.name)):
                keys = self._keys.for_medium(MEDIA[name].name)
                meta = keys.meta(account)
                if error is None:
                    pipe.hsetnx(meta, "baselined_at", now)
                    pipe.hset(meta, mapping={"last_poll_at": now, "last_error": ""})
                    pipe.zremrangebyscore(keys.known(account), "-inf", now - self._known_ttl_s)
                else:
                    pipe.hset(meta, mapping={"last_error_at": now, "last_error": error[:500]})
                pipe.expire(meta, self._known_ttl_s)
                pipe.expire(keys.checked(account), self._known_ttl_s)
            pipe.zadd(self._keys.accounts(), {account: now})
            pipe.zremrangebyscore(self._keys.accounts(), "-inf", now - self._known_ttl_s)
            pipe.expire(self._keys.accounts(), self._known_ttl_s)
            pipe.execute()
