"""Discord webhook sink: one embed coloured by outcome, with the image, and no mentions.

``allowed_mentions`` is empty, so a prompt holding ``@everyone`` or a user
id pings nobody. Texts are cut to Discord's embed limits (title 256,
description 4096, 25 fields of 256/1024, footer 2048, 6000 in all).

The title and the description are the sink's templates (today's title and the prompt by default),
every printed value markdown-escaped, so a prompt shows as typed (``**x**`` is not bold).
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from notifier.backoff import MAX_RETRY_AFTER_S
from notifier.delivery.sinks.base import USER_AGENT, SinkRequest, SinkResponse, json_text, post
from notifier.delivery.sinks.present import cut, present, utf16_len
from notifier.delivery.sinks.templates import DEFAULT_TEXT, DEFAULT_TITLE, render
from notifier.errors import DeliveryError

if TYPE_CHECKING:
    import httpx

    from notifier.runtime.sink_config import ChatConfig
    from notifier.state.events import Event

TITLE_MAX = 256
DESCRIPTION_MAX = 4096
FIELDS_MAX = 25
FIELD_NAME_MAX = 256
FIELD_VALUE_MAX = 1024
FOOTER_MAX = 2048
EMBED_TOTAL_MAX = 6000
URL_MAX = 2048
MIN_TEXT = 20
"""What is left of a text cut to make room: a few characters and the cut mark."""


def _embed_size(embed: dict[str, Any]) -> int:
    fields = sum(utf16_len(f["name"]) + utf16_len(f["value"]) for f in embed.get("fields", []))
    return utf16_len(embed["title"]) + utf16_len(embed["description"]) + fields + utf16_len(embed["footer"]["text"])


def _fit(embed: dict[str, Any]) -> None:
    """Cut the description, then the fields from the last, then the footer, until the embed is within 6000."""
    texts = [(embed, "description"), *((f, "value") for f in reversed(embed["fields"])), (embed["footer"], "text")]
    for holder, key in texts:
        overflow = _embed_size(embed) - EMBED_TOTAL_MAX
        if overflow <= 0:
            return
        holder[key] = cut(holder[key], max(MIN_TEXT, utf16_len(holder[key]) - overflow))


def build_message(event: Event, title_template: str | None = None, text_template: str | None = None,
                  ) -> dict[str, Any]:
    p = present(event)
    embed: dict[str, Any] = {
        "title": cut(render("discord", title_template or DEFAULT_TITLE, event).strip() or "(no title)", TITLE_MAX),
        "description": cut(render("discord", text_template or DEFAULT_TEXT, event).strip() or " ", DESCRIPTION_MAX),
        "color": p.color,
        "timestamp": p.timestamp,
        "fields": [
            {"name": cut(label, FIELD_NAME_MAX), "value": cut(value, FIELD_VALUE_MAX), "inline": True}
            for label, value in p.facts[:FIELDS_MAX]
        ],
        "footer": {"text": cut(p.image_id, FOOTER_MAX)},
    }
    link = p.link_url or (p.image_url if p.noun == "image" else None)
    if p.kind == "completed" and link and len(link) <= URL_MAX:
        # Plain webhooks cannot send buttons: the title links to the file, and a field says so.
        embed["url"] = link
        markdown = f"[{p.link_label}]({link})"
        if p.noun == "video" and utf16_len(markdown) <= FIELD_VALUE_MAX and len(embed["fields"]) < FIELDS_MAX:
            embed["fields"].append({"name": "Video", "value": markdown, "inline": False})
    if p.kind == "completed" and p.image_url and len(p.image_url) <= URL_MAX:
        embed["image"] = {"url": p.image_url}
    _fit(embed)
    return {"username": "PixVerse notifier", "embeds": [embed], "allowed_mentions": {"parse": []}}


def build_request(event: Event, config: ChatConfig, now: float) -> SinkRequest:
    return SinkRequest(
        url=config.url,
        body=json_text(build_message(event, config.title_template, config.text_template)).encode(),
        headers={"content-type": "application/json", "user-agent": USER_AGENT},
    )


def send(client: httpx.Client, request: SinkRequest, timeout_s: float) -> SinkResponse:
    try:
        return post(client, request, timeout_s, what="discord")
    except DeliveryError as exc:
        if exc.status_code != 429 or exc.retry_after_s is not None:
            raise
        # Discord says how long in its JSON body; a header may be missing.
        try:
            retry_after = float(json.loads(exc.response_text).get("retry_after"))
        except (ValueError, TypeError, AttributeError):
            raise exc from None
        if math.isnan(retry_after):
            raise exc from None
        # `1e9` or `Infinity` must not reschedule a delivery years ahead (or overflow): at most an hour.
        retry_after = min(max(0.0, retry_after), MAX_RETRY_AFTER_S)
        raise DeliveryError(str(exc), retryable=True, status_code=429, retry_after_s=retry_after,
                            response_text=exc.response_text, answered_at=exc.answered_at) from exc
