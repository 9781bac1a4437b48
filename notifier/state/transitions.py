"""Whether an observation of an image is an event. Pure: takes plain data and ``now``.

The tracker feeds this with what Redis remembers of the image; the answer
says what to emit and what to remember.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from notifier.state.events import EXPIRED, STALLED
from notifier.state.timing import GENERATING_NAMES, timing
from notifier.upstream.statuses import DELETED, Status


class Mode(enum.Enum):
    NORMAL = "normal"
    BASELINE = "baseline"
    """First poll of an account: what is already there is recorded, not announced."""
    BACKFILL = "backfill"
    """Like a first poll, but every image's current status is announced."""


HISTORY_SLACK_S = 60.0
"""How much older than the first poll an unseen image must be to count as history: ``created_at`` has whole
seconds, and the upstream's clock may be behind ours. Erring this way announces (rather than drops)."""


@dataclass(frozen=True, slots=True)
class Tracked:
    """What Redis keeps of a non-final image."""

    status: Status
    first_seen: float
    seq: int = 0
    """How many events the image has had: part of the next event's id."""
    stalled: bool = False
    """Its ``*.stalled`` event was emitted (once per item)."""
    queued_at: float | None = None
    """When a poll first saw it QUEUED (timing)."""
    generating_at: float | None = None
    """When a poll first saw it generating (timing)."""
    created: float | None = None
    """The upstream's ``created_at``: where in the list it is (videos: whether a read passed it)."""

    def dump(self) -> str:
        fields: list[Any] = [self.status.name, self.status.code, int(self.first_seen), self.seq]
        extra = [int(self.stalled), self.queued_at, self.generating_at, self.created]
        if extra != [0, None, None, None]:
            fields += extra  # an item tracked before these existed keeps its old, shorter form
        return json.dumps(fields, separators=(",", ":"))

    @classmethod
    def load(cls, raw: str | bytes) -> Tracked:
        name, code, first_seen, *rest = json.loads(raw)
        seq = int(rest[0]) if rest else 0  # written before events had a sequence number
        stalled, queued_at, generating_at, created = [*rest[1:5], 0, None, None, None][:4]
        return cls(status=Status(name=name, code=code, final=False), first_seen=float(first_seen), seq=seq,
                   stalled=bool(stalled), queued_at=_float(queued_at), generating_at=_float(generating_at),
                   created=_float(created))

    def seen(self, status: Status, now: float, image: dict[str, Any]) -> Tracked:
        """The marks of timing after a poll saw ``status`` (the first sight of each phase counts)."""
        queued_at = self.queued_at if self.queued_at is not None or status.name != "QUEUED" else round(now, 3)
        generating_at = self.generating_at
        if generating_at is None and status.name in GENERATING_NAMES:
            generating_at = round(now, 3)
        created = self.created if self.created is not None else created_at(image)
        return replace(self, queued_at=queued_at, generating_at=generating_at, created=created)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class Decision:
    emit: bool
    previous: Status | None
    track: Tracked | None
    """The new tracked state, or None when the image leaves the tracked set."""
    gave_up: bool = False
    """True when the image is dropped for being older than the age limit."""
    seq: int = 0
    """The sequence number of the emitted event."""
    skip: bool = False
    """Nothing learnt (no status in the answer): nothing is written."""
    kind: str | None = None
    """None for a status change; ``stalled`` or ``expired`` for those events (the status stays)."""
    status: Status | None = None
    """The status a ``stalled`` / ``expired`` event reports (the one last seen)."""
    timing: dict[str, float | None] | None = None
    """Of a final event: how long the item queued and generated (:mod:`notifier.state.timing`)."""
    age_s: float | None = None
    """Of a ``stalled`` / ``expired`` event: how long the item has been in progress."""


def created_at(image: dict[str, Any]) -> float | None:
    raw = image.get("created_at")
    if not isinstance(raw, str):
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def is_old(image: dict[str, Any], now: float, max_age_s: float) -> bool:
    """Created longer ago than the age limit (an image without ``created_at`` is not old)."""
    born = created_at(image)
    return born is not None and now - born > max_age_s


def is_history(image: dict[str, Any], history_before: float | None) -> bool:
    """Created before the account's first poll began (``history_before``), with a minute's slack for
    ``created_at``'s whole seconds: history, recorded without an event when first seen. Pure."""
    born = created_at(image)
    return history_before is not None and born is not None and born < history_before - HISTORY_SLACK_S


def in_progress_since(tracked: Tracked, image: dict[str, Any]) -> float:
    """When the item started: the upstream's ``created_at``, else when it was first seen."""
    born = created_at(image)
    return born if born is not None and born <= tracked.first_seen else tracked.first_seen


def is_expired(tracked: Tracked, now: float, max_age_s: float) -> bool:
    """Tracking stops: not final ``max_age_s`` after it was first seen. Pure."""
    return now - tracked.first_seen > max_age_s


def is_stalled(tracked: Tracked, image: dict[str, Any], now: float, stall_after_s: float | None) -> bool:
    """Not final ``stall_after_s`` after it started, and not announced as stalled yet. Pure."""
    return (stall_after_s is not None and not tracked.stalled
            and now - in_progress_since(tracked, image) > stall_after_s)


def _aging(tracked: Tracked, image: dict[str, Any], now: float, max_age_s: float,
           stall_after_s: float | None) -> Decision:
    """A tracked item whose status did not change: expired, stalled, or nothing to say."""
    if is_expired(tracked, now, max_age_s):
        return Decision(emit=True, previous=None, track=None, gave_up=True, seq=tracked.seq, kind=EXPIRED,
                        status=tracked.status, age_s=now - in_progress_since(tracked, image))
    if is_stalled(tracked, image, now, stall_after_s):
        return Decision(emit=True, previous=None, track=replace(tracked, stalled=True), seq=tracked.seq,
                        kind=STALLED, status=tracked.status, age_s=now - in_progress_since(tracked, image))
    return Decision(emit=False, previous=None, track=tracked)


def decide(
    *,
    tracked: Tracked | None,
    known: bool,
    status: Status,
    image: dict[str, Any],
    mode: Mode,
    now: float,
    max_age_s: float,
    history_before: float | None = None,
    stall_after_s: float | None = None,
) -> Decision:
    """What an observation means. ``history_before`` is when the account's first poll began: an image
    never seen that was created before it is history, recorded without an event. ``stall_after_s``: when a
    tracked item still in progress is announced stalled (None: never)."""
    silent = tracked is not None and not tracked.status.informative
    if not status.informative:
        # A missing or null status is no information: keep what we knew. An image never seen with a status
        # is followed all the same (looked up when off the pages read) until it shows one: it may be deep
        # in a list no later read goes back to.
        if tracked is None and not known and not is_old(image, now, max_age_s):
            return Decision(emit=False, previous=None, track=Tracked(status, now))
        if tracked is not None and silent and now - tracked.first_seen > max_age_s:
            return Decision(emit=False, previous=None, track=None, gave_up=True)
        if tracked is not None and not silent:
            return _aging(tracked, image, now, max_age_s, stall_after_s)  # nothing learnt, but time runs
        return Decision(emit=False, previous=None, track=tracked, skip=tracked is None and not known)
    if silent:
        if status.name == DELETED:
            # Never seen with a status, then gone: nothing to say of it (as for an image created and
            # deleted between two polls); whether it was history cannot be told without its created_at.
            return Decision(emit=False, previous=None, track=None)
        tracked = None  # its first status is decided as for an image never seen
    if tracked is not None:
        if status.key != tracked.status.key:
            if status.final:
                spans = timing(image, now=now, queued_seen_at=tracked.queued_at,
                               generating_seen_at=tracked.generating_at)
                return Decision(emit=True, previous=tracked.status, track=None, seq=tracked.seq, timing=spans)
            moved = replace(tracked, status=status, seq=tracked.seq + 1).seen(status, now, image)
            return Decision(emit=True, previous=tracked.status, track=moved, seq=tracked.seq)
        return _aging(tracked, image, now, max_age_s, stall_after_s)

    if known:
        # Final already, or given up on: nothing more to say about it.
        return Decision(emit=False, previous=None, track=None)

    too_old = is_old(image, now, max_age_s)
    history = is_history(image, history_before)
    if mode is Mode.BASELINE or (mode is Mode.NORMAL and (too_old or history)):
        recorded = None if status.final or too_old else Tracked(status, now).seen(status, now, image)
        return Decision(emit=False, previous=None, track=recorded)
    first = None if status.final or too_old else Tracked(status, now, 1).seen(status, now, image)
    first_spans = timing(image, now=now, queued_seen_at=None, generating_seen_at=None) if status.final else None
    return Decision(emit=True, previous=None, track=first, timing=first_spans)
