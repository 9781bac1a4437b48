"""Whether a video that answers 404 is gone from its list. Pure but for the ``read`` it is given.

``GET /videos/{id}`` answers 404 while a video is processing as well as after its deletion. The list
tells them apart: it is ordered newest first by ``created_at``, so one page holding items created
before *and* after a video (or the list's first page holding only older ones, or an empty list)
shows where the video would be, and a page is one answer: nothing can shift within it. A video
not on such a page is gone. Every page a poll read is such evidence; when none is, a few pages are read
by bisection on ``created_at`` (``total`` bounds the search), within a budget of pages per poll.
``created_at`` has whole seconds: an item within a second of the video says nothing of its order, so a
video made in the same second as more than a page of others cannot be told deleted from in progress
(it is announced ``video.expired`` at ``NOTIFIER_IMAGE_MAX_AGE_S`` instead).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

SLACK_S = 1.0


@dataclass(frozen=True, slots=True)
class PageView:
    """What one list page shows of the list's order."""

    ids: frozenset[str]
    created: tuple[float, ...]
    """The ``created_at`` of its items (those without one left out)."""
    at_start: bool
    at_end: bool


def excludes(view: PageView, created: float | None) -> bool:
    """True when this page shows that an item created at ``created`` is not in the list (it is not on it)."""
    if view.at_start and view.at_end and not view.ids:
        return True  # the list is empty
    if created is None or not view.created:
        return False
    newer = any(c > created + SLACK_S for c in view.created)
    older = any(c < created - SLACK_S for c in view.created)
    # It would lie between the newer and the older ones (items of about its second may be on either side):
    # on this page.
    return (newer and older) or (view.at_start and older)


def locate(
    read: Callable[[int], PageView], created: float, *, total: int, page_size: int, budget: int,
) -> tuple[PageView | None, int]:
    """Bisect the list for the page where an item created at ``created`` would be; the page found (None when
    the budget ran out or the order is ambiguous) and the pages read."""
    low, high, used = 0, max(total, 1), 0
    while used < budget and low < high:
        offset = (low + high) // 2 // page_size * page_size
        view = read(offset)
        used += 1
        if excludes(view, created) or not view.created:
            return view, used
        if min(view.created) > created + SLACK_S:
            low = offset + max(1, len(view.ids))  # all newer: it lies deeper
        elif max(view.created) < created - SLACK_S:
            high = offset  # all older: it lies above
        else:
            return view, used  # it would be on this page (seen there, or within a second of others)
    if used < budget and 0 < low == high:
        # Between two pages read apart (the list may have moved between them): one page across the gap.
        view = read(max(0, low - max(1, page_size // 2)))
        return view, used + 1
    return None, used
