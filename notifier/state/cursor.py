"""Where a poll that reached its page cap stopped (kept in the account's meta hash)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a poll that reached its page cap stopped: the next poll resumes there.

    Offsets move as images are added or deleted above; ``total`` (the list's length then) lets the next
    poll shift the offset by the change, and ``boundary`` (the last image read, with its ``created_at``)
    tells when the resumed read has passed the point where the last one stopped.
    """

    offset: int
    total: int | None
    boundary: str
    boundary_created: float | None
    baseline: bool = False
    """Left by a first poll: the rest is read as a first poll too (recorded, not announced)."""

    def dump(self) -> list[Any]:
        return [self.offset, self.total, self.boundary, self.boundary_created, self.baseline]

    @classmethod
    def load_all(cls, raw: bytes | str | None) -> list[Cursor]:
        if not raw:
            return []
        try:
            return [cls(int(o), None if t is None else int(t), str(b), None if c is None else float(c), bool(m))
                    for o, t, b, c, m in json.loads(raw)]
        except (ValueError, TypeError):
            log.warning("unreadable poll cursors ignored: %r", raw[:100])
            return []

    @staticmethod
    def dump_all(cursors: Sequence[Cursor]) -> str:
        return json.dumps([c.dump() for c in cursors], separators=(",", ":"))
