"""Slack bot sink: through Slack's Web API with a bot token, one message per item (image, video) and its
later statuses as replies in its thread, the first message updated to the latest status.

``build_request`` (pure) builds the same Block Kit message as the incoming-webhook sink
(:mod:`~notifier.delivery.sinks.slack`, with the sink's templates) and says which thread it belongs to;
``send`` posts it:

- no thread yet for the item: claim it (:class:`~notifier.delivery.threads.ThreadStore`), post the message
  (``chat.postMessage``), remember its ``ts``. Another event of the item delivered meanwhile finds the
  claim and is tried again a second later, as a reply: one first message, not two. A post that fails gives
  the claim up, so the next try (of this event or a later one) posts it;
- a thread: reply in it (``thread_ts``), then ``chat.update`` the first message, unless it already shows a
  later event (retries can deliver an older status after a newer one). Each step is remembered, so a try
  after a failed update does not reply twice;
- the first message deleted in Slack (``message_not_found``): the item's thread is forgotten and its next
  event starts a new one.

Slack answers 200 with ``{"ok": false, "error": ...}``: each error is mapped to the HTTP answer it stands
for (``retry_table.slack_api_status``: ``ratelimited`` is a 429, ``channel_not_found`` a 404,
``invalid_auth`` a 401 ...) and judged by the one retry table. A post whose answer never came (a timeout)
may have been made: its retry can leave a second first message; an answered failure never does.
"""

from __future__ import annotations

import json
import math
import time
from typing import TYPE_CHECKING, Any

import httpx
import redis

from notifier.backoff import parse_retry_after
from notifier.delivery.retry_table import Outcome, classify, slack_api_status
from notifier.delivery.sinks.base import USER_AGENT, SinkRequest, SinkResponse, ThreadPlan, json_text, post_capped
from notifier.delivery.sinks.slack import build_message
from notifier.errors import DeliveryError
from notifier.upstream.clean import clean_text

if TYPE_CHECKING:
    from notifier.delivery.threads import ThreadStore
    from notifier.runtime.sink_config_chat import SlackBotConfig
    from notifier.state.events import Event

_IMAGE_REFUSALS = ("invalid_blocks", "invalid_image", "downloading image failed")
_GONE = ("message_not_found", "thread_not_found")
WAIT_FOR_FIRST_S = 1.0


def item_of(event: Event) -> str:
    """The item whose thread an event belongs to: its kind and id (``image:…``, ``video:…``)."""
    kind = event.type.partition(".")[0] if isinstance(event.type, str) else "image"
    data = event.data if isinstance(event.data, dict) else {}
    return f"{kind}:{data.get(f'{kind}_id') or data.get('image_id') or event.id}"


def build_request(event: Event, config: SlackBotConfig, now: float) -> SinkRequest:
    full = build_message(event, title_template=config.title_template, text_template=config.text_template)
    bare = build_message(event, with_image=False, title_template=config.title_template,
                         text_template=config.text_template)
    return SinkRequest(
        url=config.url,
        body=json_text(full).encode(),
        headers={"authorization": f"Bearer {config.token.get_secret_value()}",
                 "content-type": "application/json; charset=utf-8", "user-agent": USER_AGENT},
        fallback_body=json_text(bare).encode() if bare != full else None,
        thread=ThreadPlan(channel=config.channel, item=item_of(event), event_id=event.id,
                          timestamp=str(event.timestamp), threads=config.threads),
    )


def call(client: httpx.Client, request: SinkRequest, method: str, payload: dict[str, Any],
         timeout_s: float) -> dict[str, Any]:
    """One Web API call; its ``{"ok": true, ...}`` answer, or a DeliveryError judged by the retry table."""
    what = f"slack_bot: {method}"
    response, answer = post_capped(client, f"{request.url}/{method}", json_text(payload).encode(), request.headers,
                                   timeout_s, what=what)
    answered_at = time.time()
    retry_after = parse_retry_after(response.headers.get("retry-after"), answered_at)
    status = response.status_code
    try:
        body = json.loads(answer) if status == 200 else None
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("ok") is True:
        return body
    if isinstance(body, dict):
        error = clean_text(str(body.get("error") or "unknown_error"))[:100]
        status = slack_api_status(error)
    else:
        error = clean_text(answer[:200].decode("utf-8", errors="replace")).strip()
        status = status if status != 200 else 502  # a 200 that is not the API's JSON: a broken proxy, say
    raise DeliveryError(f"{what} answered {error!r}" if isinstance(body, dict) else f"{what} answered {status}",
                        retryable=classify(status) is Outcome.RETRY, status_code=status, retry_after_s=retry_after,
                        response_text=error, answered_at=answered_at)


def _post(client: httpx.Client, request: SinkRequest, method: str, extra: dict[str, Any],
          timeout_s: float) -> dict[str, Any]:
    """Send the message (``method`` with ``extra``), once more without its image if Slack cannot fetch it."""
    try:
        return call(client, request, method, {**extra, **json.loads(request.body)}, timeout_s)
    except DeliveryError as exc:
        if request.fallback_body is None or not any(w in exc.response_text for w in _IMAGE_REFUSALS):
            raise
        return call(client, request, method, {**extra, **json.loads(request.fallback_body)}, timeout_s)


def send(client: httpx.Client, request: SinkRequest, timeout_s: float, *, threads: ThreadStore | None,
         sink: str) -> SinkResponse:
    try:
        return _send(client, request, timeout_s, threads, sink)
    except redis.RedisError as exc:
        # Where the thread is could not be read or written: tried again like an outage (the claim, if
        # taken, expires), never a library error out of the job.
        raise DeliveryError(f"slack_bot: the item's thread could not be kept in Redis ({type(exc).__name__})",
                            retryable=True) from exc


def _send(client: httpx.Client, request: SinkRequest, timeout_s: float, threads: ThreadStore | None,
          sink: str) -> SinkResponse:
    plan = request.thread
    assert plan is not None
    started = time.monotonic()

    def done(what: str) -> SinkResponse:
        return SinkResponse(200, what, time.monotonic() - started)

    if threads is None or not plan.threads:
        _post(client, request, "chat.postMessage", {"channel": plan.channel}, timeout_s)
        return done("posted")
    thread = threads.get(sink, plan.item)
    if thread.ts is None:
        claim = threads.claim(sink, plan.item, math.ceil(timeout_s) * 2 + 5)
        if claim is None:
            raise DeliveryError("slack_bot: the item's first message is being posted by another delivery; "
                                "this one replies in its thread", retryable=True, status_code=409,
                                retry_after_s=WAIT_FOR_FIRST_S)
        try:
            thread = threads.get(sink, plan.item)
            if thread.ts is None:
                answer = _post(client, request, "chat.postMessage", {"channel": plan.channel}, timeout_s)
                threads.started(sink, plan.item, ts=str(answer.get("ts")), channel=str(answer.get("channel")
                                or plan.channel), event_id=plan.event_id, shown=plan.timestamp)
                return done("posted the item's first message")
        finally:
            threads.release(sink, plan.item, claim)
    assert thread.ts is not None
    if thread.parent_event == plan.event_id:
        return done("the item's first message, posted before")
    channel = thread.channel or plan.channel
    if plan.event_id not in thread.replies:
        try:
            answer = _post(client, request, "chat.postMessage", {"channel": channel, "thread_ts": thread.ts},
                           timeout_s)
        except DeliveryError as exc:
            if exc.response_text in _GONE:
                threads.forget(sink, plan.item)  # the next try starts a new thread
                raise DeliveryError(f"{exc}; the item's thread is gone, starting a new one", retryable=True,
                                    status_code=409, retry_after_s=WAIT_FOR_FIRST_S) from exc
            raise
        threads.replied(sink, plan.item, plan.event_id, str(answer.get("ts")))
    if threads.show(sink, plan.item, plan.timestamp):
        try:
            _post(client, request, "chat.update", {"channel": channel, "ts": thread.ts}, timeout_s)
        except DeliveryError as exc:
            if exc.response_text not in _GONE:
                raise
            threads.forget(sink, plan.item)
            return done("replied; the first message is gone, the item's next event starts a new thread")
        return done("replied in the thread, first message updated")
    return done("replied in the thread (the first message shows a later status)")
