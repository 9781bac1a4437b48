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

SLACK_API_ERRORS: dict[str, int] = {
    # Slack's Web API answers 200 with {"ok": false, "error": ...}: each error as the HTTP answer it means,
    # so the table below (and the rate limit, the "gone" log) treat it like any sink's answer.
    "ratelimited": 429,
    "rate_limited": 429,
    "request_timeout": 408,
    "internal_error": 500,
    "fatal_error": 500,
    "service_unavailable": 503,
    "team_added_to_org": 503,
    "invalid_auth": 401,
    "not_authed": 401,
    "account_inactive": 401,
    "token_revoked": 401,
    "token_expired": 401,
    "missing_scope": 403,
    "not_allowed_token_type": 403,
    "no_permission": 403,
    "not_in_channel": 403,
    "restricted_action": 403,
    "channel_not_found": 404,
    "message_not_found": 404,
    "thread_not_found": 404,
    "is_archived": 410,
    "cant_update_message": 403,
    "msg_too_long": 400,
    "no_text": 400,
    "invalid_blocks": 400,
    "invalid_arguments": 400,
}
"""Any other error is a 400: final."""


def slack_api_status(error: str) -> int:
    """The HTTP answer a Slack Web API error stands for (400, final, when it is not in the table)."""
    return SLACK_API_ERRORS.get(error, 400)


def classify(status_code: int) -> Outcome:
    if 200 <= status_code < 300:
        return Outcome.SUCCESS
    if status_code in RETRYABLE_4XX or 500 <= status_code < 600:
        return Outcome.RETRY
    return Outcome.PERMANENT
