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

:func:`loads_clean` parses a body and cleans it, walking the decoded value only when the raw bytes
show it needs it (a surrogate, escaped or raw): most pages have none, and the poller's cycle over
many accounts stays about as fast as before.
"""

from __future__ import annotations

import json
import math
import re
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


# "\ud83d" escaped, or its three bytes raw (json.loads decodes bytes with "surrogatepass").
_ESCAPED_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")
_RAW_SURROGATE = re.compile(rb"\xed[\xa0-\xbf]")


def loads_clean(raw: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """What ``clean_json(json.loads(raw))`` gives, at little more than the cost of ``json.loads``.

    Numbers are made finite while parsing; the value is walked only when the bytes hold a surrogate
    (or are not UTF-8), and its depth is measured only when the bytes hold more brackets than
    ``max_depth``. Raises what ``json.loads`` raises (ValueError subclasses) and :class:`TooDeep`,
    also for a body nested too deep for the JSON decoder itself.
    """
    try:
        value = json.loads(raw, parse_constant=_not_finite, parse_float=_finite)
    except RecursionError:
        raise TooDeep(f"nested deeper than the JSON decoder goes (limit {max_depth} levels)") from None
    if json.detect_encoding(raw) != "utf-8" or _has_surrogate(raw):
        return clean_json(value, max_depth=max_depth)
    if raw.count(b"[") + raw.count(b"{") > max_depth and not _within(value, max_depth):
        raise TooDeep(f"nested deeper than {max_depth} levels")
    return value


def _not_finite(constant: str) -> None:
    return None  # NaN, Infinity, -Infinity


def _finite(text: str) -> float | None:
    number = float(text)  # 1e999 is inf
    return number if math.isfinite(number) else None


def _has_surrogate(raw: bytes) -> bool:
    return bool((b"\\u" in raw and _ESCAPED_SURROGATE.search(raw)) or (b"\xed" in raw and _RAW_SURROGATE.search(raw)))


def _within(value: Any, limit: int) -> bool:
    """Whether ``value`` nests objects and lists at most ``limit`` deep (without recursion)."""
    stack = [(value, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > limit:
            return False
        for item in container.values() if isinstance(container, dict) else container:
            if isinstance(item, dict | list):
                stack.append((item, depth + 1))
    return True
