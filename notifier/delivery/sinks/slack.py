"""Slack incoming-webhook sink: Block Kit with a plain ``text`` fallback.

Slack shows only png, jpg, jpeg and gif in image blocks and refuses the
whole message when it cannot fetch an image; the upstream's images are
webp. So: an image block only for those formats, a button linking to the
image always, and when Slack still refuses the image (``invalid_blocks``,
"downloading image failed") the same message without the image block is
sent once instead.

User text is untrusted: the prompt goes in ``plain_text`` (no mentions, no
formatting), values inside ``mrkdwn`` are escaped (``&``, ``<``, ``>``), so a
prompt cannot ping a channel, and every text is cut to Slack's limits.

The header is the sink's title template, the first section its text template
(:mod:`~notifier.delivery.sinks.templates`); by default the title is today's
("✅ Image completed") and the text the prompt in ``plain_text``. A text
template of the sink's own is mrkdwn, its printed values escaped.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from notifier.delivery.sinks.base import USER_AGENT, SinkRequest, SinkResponse, json_text, post
from notifier.delivery.sinks.present import cut, present
from notifier.delivery.sinks.templates import DEFAULT_TITLE, render
from notifier.delivery.sinks.templates import slack_escape as escape
from notifier.errors import DeliveryError

if TYPE_CHECKING:
    import httpx

    from notifier.runtime.sink_config import ChatConfig
    from notifier.state.events import Event

# Slack's documented limits.
HEADER_MAX = 150
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
FIELDS_MAX = 10
ALT_TEXT_MAX = 2000
URL_MAX = 3000
BUTTON_TEXT_MAX = 75
BLOCKS_MAX = 50
FALLBACK_TEXT_MAX = 300
INLINE_FORMATS = (".png", ".jpg", ".jpeg", ".gif")
_IMAGE_REFUSALS = ("invalid_blocks", "downloading image failed", "invalid_image")
_WARNINGS = {
    f"{noun}.{kind}": text.format(noun=noun)
    for noun in ("image", "video")
    for kind, text in (
        ("moderated", ":warning: *PixVerse's moderation blocked this {noun}.*"),
        ("failed", ":x: *PixVerse could not generate this {noun}.*"),
        ("stalled", ":turtle: *This {noun} is taking much longer than usual; it is still followed.*"),
        ("expired", ":hourglass: *This {noun} never finished; it is no longer followed.*"),
    )
}


def shows_inline(url: str) -> bool:
    try:
        return urlsplit(url).path.lower().endswith(INLINE_FORMATS)
    except ValueError:  # e.g. "https://[": no image block for a URL that does not parse
        return False


def build_message(event: Event, *, with_image: bool = True, title_template: str | None = None,
                  text_template: str | None = None) -> dict[str, Any]:
    p = present(event)
    title = render("plain", title_template or DEFAULT_TITLE, event)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": cut(title.strip() or "(no title)", HEADER_MAX)}},
    ]
    if event.type in _WARNINGS:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _WARNINGS[event.type]}})
    if text_template is None:
        text = {"type": "plain_text", "text": cut(p.prompt or "(no prompt)", SECTION_TEXT_MAX)}
        summary = f"{escape(title)}: {escape(p.prompt) or '(no prompt)'}"
    else:
        rendered = render("slack", text_template, event).strip() or " "
        text = {"type": "mrkdwn", "text": cut(rendered, SECTION_TEXT_MAX)}
        summary = f"{escape(title)}: {rendered}"
    blocks.append({"type": "section", "text": text})
    facts = p.facts if p.kind == "completed" else [
        f for f in p.facts if f[0] in ("Account", "Status code", "Status", "In progress for")]
    if facts:
        blocks.append({
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": cut(f"*{label}*\n{escape(value)}", FIELD_TEXT_MAX)}
                for label, value in facts[:FIELDS_MAX]
            ],
        })
    picture = p.image_url if p.image_url and len(p.image_url) <= URL_MAX else None
    # An image's button opens the image; a video's opens the video file, its first frame shown when given.
    url = (p.link_url or (picture if p.noun == "image" else None))
    url = url if url and len(url) <= URL_MAX else None
    if p.kind == "completed" and (url or picture):
        if with_image and picture and shows_inline(picture):
            blocks.append({
                "type": "image",
                "image_url": picture,
                "alt_text": cut(p.prompt or f"generated {p.noun}", ALT_TEXT_MAX),
            })
        if url:
            blocks.append({
                "type": "actions",
                "elements": [{"type": "button", "text": {"type": "plain_text", "text": p.link_label}, "url": url}],
            })
    context = f"{escape(p.image_id)} · {escape(p.timestamp)}"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": cut(context, SECTION_TEXT_MAX)}]})
    return {"text": cut(summary, FALLBACK_TEXT_MAX), "blocks": blocks[:BLOCKS_MAX]}


def _encode(message: dict[str, Any]) -> bytes:
    return json_text(message).encode()


def build_request(event: Event, config: ChatConfig, now: float) -> SinkRequest:
    full = build_message(event, title_template=config.title_template, text_template=config.text_template)
    bare = build_message(event, with_image=False, title_template=config.title_template,
                         text_template=config.text_template)
    return SinkRequest(
        url=config.url,
        body=_encode(full),
        headers={"content-type": "application/json", "user-agent": USER_AGENT},
        fallback_body=_encode(bare) if bare != full else None,
    )


def send(client: httpx.Client, request: SinkRequest, timeout_s: float) -> SinkResponse:
    try:
        return post(client, request, timeout_s, what="slack")
    except DeliveryError as exc:
        refused_image = exc.status_code == 400 and any(word in exc.response_text for word in _IMAGE_REFUSALS)
        if request.fallback_body is None or not refused_image:
            raise
        bare = replace(request, body=request.fallback_body, fallback_body=None)
        return post(client, bare, timeout_s, what="slack (sent again without the image)")
