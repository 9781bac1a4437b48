"""Upstream data made safe to store and send: every string valid Unicode, every number finite. Pure.

Python's JSON decoder turns ``"\\ud83d"`` (half of an emoji a client cut in two) into a lone
surrogate, a ``str`` that cannot be encoded as UTF-8: Redis, the webhook signature and every sink's
body would fail on it. It also accepts ``NaN`` and ``Infinity``, which are not JSON (RFC 8259) and
which strict receivers refuse. So upstream data is cleaned once where it enters (the client), and the
sinks clean what they send again as a last defence:

- a lone surrogate becomes U+FFFD (the replacement character); a surrogate pair left as two code
  points becomes the character it encodes; every other character is kept as it is;
- a non-finite float becomes ``None`` (``null``);
- objects nested deeper than :data:`MAX_DEPTH` are refused (:class:`TooDeep`): no real image is,
  and every later ``json.dumps`` and Redis write stays far from Python's recursion limit.

Keys of objects are cleaned like values (two keys that differ only by a broken character end up as
one; the later one wins).
"""

from __future__ import annotations

import math
from typing import Any

REPLACEMENT = "\ufffd"
MAX_DEPTH = 100


class TooDeep(ValueError):
    """A JSON value nested deeper than :data:`MAX_DEPTH` levels."""


def clean_text(text: str) -> str:
    """``text`` as valid Unicode: lone surrogates replaced by U+FFFD. The same object when nothing changes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def clean_json(value: Any, *, max_depth: int = MAX_DEPTH) -> Any:
    """A copy of a JSON value (from ``json.loads``) with every string cleaned and every number finite.

    Raises :class:`TooDeep` for a value nested deeper than ``max_depth``. Values of other types
    (not from JSON) are returned as they are.
    """
    try:
        return _clean(value, max_depth)
    except (TooDeep, RecursionError):  # RecursionError: only when called with little stack left
        raise TooDeep(f"nested deeper than {max_depth} levels") from None


def _clean(value: Any, depth_left: int) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict | list):
        if depth_left <= 0:
            raise TooDeep
        if isinstance(value, list):
            return [_clean(item, depth_left - 1) for item in value]
        return {
            (clean_text(key) if isinstance(key, str) else key): _clean(item, depth_left - 1)
            for key, item in value.items()
        }
    return value
