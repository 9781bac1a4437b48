"""How much of what comes from outside the notifier holds in memory or keeps: answers and images.

- An upstream page is read up to :data:`UPSTREAM_BODY_MAX` (16 MiB, decoded); a larger one is an error.
- A sink's answer is read up to :data:`SINK_ANSWER_MAX` (64 KiB) and the rest left unread: only its
  start is ever used (to judge and to report it).
- The image object an event carries (and every delivery job copies, and the failed registry keeps for
  weeks) is bounded by :func:`bound_image`: strings over :data:`MAX_STRING` characters are cut, lists
  and objects keep their first :data:`MAX_ITEMS` entries, nesting stops at :data:`MAX_DEPTH`, and if
  the whole is still over :data:`MAX_IMAGE_BYTES` of JSON its largest fields are cut until it fits.
  Whatever was cut ends with :data:`CUT`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

UPSTREAM_BODY_MAX = 16 * 1024 * 1024
SINK_ANSWER_MAX = 64 * 1024

MAX_STRING = 4096
MAX_ITEMS = 100
MAX_DEPTH = 6
MAX_IMAGE_BYTES = 32 * 1024
CUT = "…[cut]"
KEEP = frozenset({"image_id", "image_status", "image_status_name", "image_status_final", "image_url", "model",
                  "video_id", "video_status", "video_status_name", "video_status_final", "url", "created_at",
                  "updated_at", "first_frame"})
"""Fields never cut for size (they are short in every real answer; they route and describe the event)."""


class _Capped:
    """The first ``cap`` bytes of a body fed chunk by chunk (one rule for the sync and async readers)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.kept: list[bytes] = []
        self.size = 0

    def add(self, chunk: bytes) -> bool:
        """Keep what fits of ``chunk``; True when the cap is passed (the rest is left unread)."""
        if self.size + len(chunk) > self.cap:
            self.kept.append(chunk[: self.cap - self.size])
            return True
        self.kept.append(chunk)
        self.size += len(chunk)
        return False


def read_capped(chunks: Iterator[bytes], cap: int) -> tuple[bytes, bool]:
    """At most ``cap`` bytes of a body read chunk by chunk; True when there was more (left unread)."""
    capped = _Capped(cap)
    over = any(capped.add(chunk) for chunk in chunks)
    return b"".join(capped.kept), over


async def read_capped_async(chunks: AsyncIterator[bytes], cap: int) -> tuple[bytes, bool]:
    """:func:`read_capped` of an async body."""
    capped = _Capped(cap)
    async for chunk in chunks:
        if capped.add(chunk):
            return b"".join(capped.kept), True
    return b"".join(capped.kept), False


def _bound(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= MAX_STRING else value[: MAX_STRING - len(CUT)] + CUT
    if isinstance(value, dict):
        if depth >= MAX_DEPTH:
            return CUT
        items = list(value.items())
        bounded = {str(k)[:MAX_STRING]: _bound(v, depth + 1) for k, v in items[:MAX_ITEMS]}
        if len(items) > MAX_ITEMS:
            bounded[CUT] = f"{len(items) - MAX_ITEMS} more fields"
        return bounded
    if isinstance(value, list):
        if depth >= MAX_DEPTH:
            return CUT
        bounded_list = [_bound(v, depth + 1) for v in value[:MAX_ITEMS]]
        if len(value) > MAX_ITEMS:
            bounded_list.append(CUT)
        return bounded_list
    return value


def _size(value: Any) -> int:
    # surrogatepass: sizing must not fail on text a client cut in half (the sinks clean it when sending).
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))


def bound_image(image: dict[str, Any]) -> dict[str, Any]:
    """The image object cut down to the bounds above (unchanged when it is within them, as it always is)."""
    bounded: dict[str, Any] = _bound(image, 0)
    if _size(bounded) <= MAX_IMAGE_BYTES:
        return bounded
    sizes = sorted(((_size(v), k) for k, v in bounded.items() if k not in KEEP), reverse=True)
    total = _size(bounded)
    for size, key in sizes:
        if total <= MAX_IMAGE_BYTES:
            break
        bounded[key] = CUT
        total -= size - _size(CUT)
    return bounded
