"""Labels of the generation metrics (``notifier_generation_seconds``, ``notifier_outcomes_total``). Pure
but for one bounded set.

Every label value is bounded, so that what the upstream sends cannot make the series count explode:
``media`` is ``images`` or ``videos``; ``outcome`` is one of :data:`OUTCOMES`; ``model`` is the item's
``model`` cut to :data:`MODEL_MAX_CHARS` of ``a-z 0-9 . _ -``, ``unknown`` when missing, and ``other``
for every model after the first :data:`MAX_MODELS` distinct ones this process saw (PixVerse has a
handful of models; a flood of made-up names ends in ``other``).
"""

from __future__ import annotations

import re
import threading
from typing import Any

OUTCOMES = ("completed", "moderated", "failed", "deleted", "unknown", "expired")
MAX_MODELS = 30
MODEL_MAX_CHARS = 40
_CLEAN = re.compile(r"[^a-z0-9._-]+")
_seen: set[str] = set()
_lock = threading.Lock()


def model_label(raw: Any, seen: set[str] | None = None, limit: int = MAX_MODELS) -> str:
    """The ``model`` label of a raw model name; ``seen`` (this process's by default) bounds how many."""
    if not isinstance(raw, str):
        return "unknown"
    name = _CLEAN.sub("-", raw.strip().lower())[:MODEL_MAX_CHARS].strip("-")
    if not name or name in ("other", "unknown"):
        return name or "unknown"
    pool = _seen if seen is None else seen
    with _lock:
        if name in pool:
            return name
        if len(pool) >= limit:
            return "other"
        pool.add(name)
        return name


def labels_of(event_type: str, data: dict[str, Any]) -> tuple[str, str, str] | None:
    """(media, model, outcome) of an event that ends an item, None for one that does not."""
    noun, _, suffix = event_type.partition(".")
    if noun not in ("image", "video"):
        return None
    if suffix == "expired":
        outcome = "expired"
    elif data.get("final") is True and suffix not in ("stalled",):
        outcome = suffix if suffix in OUTCOMES else "unknown"
    else:
        return None
    item = data.get(noun)
    model = item.get("model") if isinstance(item, dict) else None
    return f"{noun}s", model_label(model), outcome
