"""One read down an account's list from an offset, page by page: where it is, and what its pages say.

Pages are offsets into a list that moves while it is read: new images land on top (pushing what was read
down, so pages repeat), deletions above pull it up. A read keeps the deepest image it has seen in list
order, which is where the next poll resumes when the page budget ends it, and, when it resumes an earlier
read, whether it is back past where that one stopped (its boundary).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from notifier.state.transitions import Mode, created_at


@dataclass(slots=True)
class Sweep:
    """One pass down the list from an offset, until the stop rule (or the page budget) ends it."""

    offset: int
    boundary: str | None = None
    boundary_created: float | None = None
    passed: bool = True
    found: bool = False  # the boundary was on a page already: the next page is past it
    last: tuple[str, float | None] | None = None
    """The deepest image (in list order) this read has seen, with its ``created_at``."""
    read: set[str] = field(default_factory=set)
    total: int | None = None
    mode: Mode | None = None
    """Overrides the poll's mode: a first poll's unread rest is read as a first poll."""
    stepped_back: int = 0
    follow_tracked: bool = True
    """Page on for tracked images not seen yet (cheaper than looking them up one by one); off while a
    backlog is read, so that re-reading them cannot eat the pages the backlog needs (lookups find them)."""

    def deepen(self, ids: list[str], images: list[dict[str, Any]]) -> bool:
        """Move ``self.last`` to this page's last image if it lies deeper; True when it did.

        Within a poll images are added on top only, so the images of one read keep their order; a page read
        after images were added above may repeat what this read saw, or hold nothing but the new ones."""
        if not ids:
            return False
        known = self.read & set(ids)
        self.read.update(ids)
        bottom = (ids[-1], created_at(images[-1]))
        if self.last is None:
            self.last = bottom
            return True
        deepest, deepest_born = self.last
        if deepest in ids:
            if ids.index(deepest) == len(ids) - 1:
                return False
        elif known:
            # Images this read saw and not its deepest: the page lies above the deepest, unless what lay
            # between was deleted (then its bottom is older).
            if bottom[1] is None or deepest_born is None or bottom[1] >= deepest_born:
                return False
        elif bottom[1] is not None and deepest_born is not None and bottom[1] > deepest_born:
            return False  # nothing seen, all newer: only images added above since the last page
        self.last = bottom
        return True

    def above(self) -> set[str]:
        """The images this read saw above its deepest one: it went on past each of them."""
        return self.read - {self.last[0]} if self.last is not None else set(self.read)

    def overshot(self, ids: list[str], images: list[dict[str, Any]]) -> bool:
        """A resumed read whose first pages are all older than its boundary started too deep."""
        limit = self.boundary_created
        if self.found or self.offset == 0 or self.stepped_back >= 3 or self.boundary in ids:
            return False
        if not images:
            return True  # past the end of the list
        if limit is None:
            return False
        born = [created_at(img) for img in images]
        return all(b is not None and b < limit for b in born)

    def past(self, ids: list[str], images: list[dict[str, Any]]) -> bool:
        """Whether this page holds images beyond the boundary, the region the last poll did not read."""
        if self.found:
            return True
        if self.boundary in ids:
            self.found = True
            return ids.index(self.boundary) < len(ids) - 1
        limit = self.boundary_created
        return limit is not None and any((born := created_at(img)) is not None and born < limit for img in images)
