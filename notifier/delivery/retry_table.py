"""Whether an HTTP answer from a sink is a success, worth retrying, or final. Pure.

One table for every sink: 2xx succeeds; 408, 409, 425, 429 and 5xx are
worth another try; everything else (other 4xx, redirects, which are not
followed, and odd codes) is permanent.
"""

from __future__ import annotations

import enum


class Outcome(enum.Enum):
    SUCCESS = "success"
    RETRY = "retry"
    PERMANENT = "permanent"


RETRYABLE_4XX = frozenset({408, 409, 425, 429})


def classify(status_code: int) -> Outcome:
    if 200 <= status_code < 300:
        return Outcome.SUCCESS
    if status_code in RETRYABLE_4XX or 500 <= status_code < 600:
        return Outcome.RETRY
    return Outcome.PERMANENT
