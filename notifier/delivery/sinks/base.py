"""What every sink shares: the request it builds, the answer it gets, the one POST."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from notifier.backoff import parse_retry_after
from notifier.bounds import SINK_ANSWER_MAX, read_capped
from notifier.delivery.egress import denial_of
from notifier.delivery.retry_table import Outcome, classify
from notifier.errors import DeliveryError
from notifier.upstream.clean import clean_json

USER_AGENT = "notifier/0.1"


@dataclass(frozen=True, slots=True)
class ThreadPlan:
    """Where a Slack bot's message goes: its channel, and the item whose thread it belongs to."""

    channel: str
    item: str
    event_id: str
    timestamp: str
    threads: bool


@dataclass(frozen=True, slots=True)
class SinkRequest:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    fallback_body: bytes | None = None
    """A simpler message to send once if the destination refuses ``body`` (Slack failing to fetch an image)."""
    thread: ThreadPlan | None = None
    """A Slack bot's message: which thread (see :mod:`notifier.delivery.sinks.slack_bot`)."""


@dataclass(frozen=True, slots=True)
class SinkResponse:
    status_code: int
    text: str
    elapsed_s: float


def json_text(value: Any) -> str:
    """``value`` as compact, strict JSON (no NaN) whose text encodes to valid UTF-8.

    The last defence behind the upstream client's cleaning: an event replayed from before it, or
    built by other code, may still hold a lone surrogate or a NaN; those are cleaned here
    (:func:`~notifier.upstream.clean.clean_json`) instead of failing the delivery.
    """
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        text.encode("utf-8")
    except ValueError:  # UnicodeEncodeError (a lone surrogate), or NaN / Infinity
        text = json.dumps(clean_json(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text


def redact_url(url: str) -> str:
    """Scheme and host only: paths and queries of webhook URLs often carry tokens."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/…"


def post_capped(client: httpx.Client, url: str, body: bytes, headers: dict[str, str], timeout_s: float, *,
                what: str) -> tuple[httpx.Response, bytes]:
    """POST once, never following redirects; the response and the first SINK_ANSWER_MAX bytes of its body
    (the rest is left unread). Any failure leaves as a DeliveryError that names no URL."""
    try:
        with client.stream("POST", url, content=body, headers=headers, timeout=timeout_s,
                           follow_redirects=False) as response:
            answer, _ = read_capped(response.iter_bytes(), SINK_ANSWER_MAX)
            return response, answer
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"{what}: timed out after {timeout_s:g} s", retryable=True) from exc
    except httpx.TransportError as exc:
        denied = denial_of(exc)
        if denied is not None:
            raise DeliveryError(f"{what}: {denied}", retryable=False) from exc
        raise DeliveryError(f"{what}: could not connect ({type(exc).__name__})", retryable=True) from exc


def post(client: httpx.Client, request: SinkRequest, timeout_s: float, *, what: str) -> SinkResponse:
    """POST once (:func:`post_capped`) and judge the answer by the retry table."""
    started = time.monotonic()
    response, answer = post_capped(client, request.url, request.body, request.headers, timeout_s, what=what)
    elapsed = time.monotonic() - started
    text = answer.decode(response.encoding or "utf-8", errors="replace")[:300]
    outcome = classify(response.status_code)
    if outcome is Outcome.SUCCESS:
        return SinkResponse(response.status_code, text, elapsed)
    answered_at = time.time()
    retry_after = parse_retry_after(response.headers.get("retry-after"), answered_at)
    detail = f"{what}: answered {response.status_code}"
    if outcome is Outcome.PERMANENT and 300 <= response.status_code < 400:
        detail += " (a redirect: redirects are not followed, configure the final URL)"
    elif text.strip():
        detail += f": {text.strip()[:200]!r}"
    raise DeliveryError(
        detail,
        retryable=outcome is Outcome.RETRY,
        status_code=response.status_code,
        retry_after_s=retry_after,
        response_text=text,
        answered_at=answered_at,
    )
