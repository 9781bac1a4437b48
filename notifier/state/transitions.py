"""Whether an observation of an image is an event. Pure: takes plain data and ``now``.

The tracker feeds this with what Redis remembers of the image; the answer
says what to emit and what to remember.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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

    def dump(self) -> str:
        return json.dumps([self.status.name, self.status.code, int(self.first_seen), self.seq], separators=(",", ":"))

    @classmethod
    def load(cls, raw: str | bytes) -> Tracked:
        name, code, first_seen, *rest = json.loads(raw)
        seq = int(rest[0]) if rest else 0  # written before events had a sequence number
        return cls(status=Status(name=name, code=code, final=False), first_seen=float(first_seen), seq=seq)


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
) -> Decision:
    """What an observation means. ``history_before`` is when the account's first poll began: an image
    never seen that was created before it is history, recorded without an event."""
    silent = tracked is not None and not tracked.status.informative
    if not status.informative:
        # A missing or null status is no information: keep what we knew. An image never seen with a status
        # is followed all the same (looked up when off the pages read) until it shows one: it may be deep
        # in a list no later read goes back to.
        if tracked is None and not known and not is_old(image, now, max_age_s):
            return Decision(emit=False, previous=None, track=Tracked(status, now))
        if tracked is not None and silent and now - tracked.first_seen > max_age_s:
            return Decision(emit=False, previous=None, track=None, gave_up=True)
        return Decision(emit=False, previous=None, track=tracked, skip=tracked is None and not known)
    if silent:
        if status.name == DELETED:
            # Never seen with a status, then gone: nothing to say of it (as for an image created and
            # deleted between two polls); whether it was history cannot be told without its created_at.
            return Decision(emit=False, previous=None, track=None)
        tracked = None  # its first status is decided as for an image never seen
    if tracked is not None:
        if status.key != tracked.status.key:
            keep = None if status.final else Tracked(status, tracked.first_seen, tracked.seq + 1)
            return Decision(emit=True, previous=tracked.status, track=keep, seq=tracked.seq)
        if now - tracked.first_seen > max_age_s:
            return Decision(emit=False, previous=None, track=None, gave_up=True)
        return Decision(emit=False, previous=None, track=tracked)

    if known:
        # Final already, or given up on: nothing more to say about it.
        return Decision(emit=False, previous=None, track=None)

    too_old = is_old(image, now, max_age_s)
    history = is_history(image, history_before)
    if mode is Mode.BASELINE or (mode is Mode.NORMAL and (too_old or history)):
        keep = None if status.final or too_old else Tracked(status, now)
        return Decision(emit=False, previous=None, track=keep)
    keep = None if status.final or too_old else Tracked(status, now, 1)
    return Decision(emit=True, previous=None, track=keep)
