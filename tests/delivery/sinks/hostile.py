"""Events built from hostile upstream data, shared by the chat sink tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from notifier.delivery.sinks import discord, slack
from notifier.delivery.sinks.present import utf16_len
from notifier.sandbox.testsink import sample_event
from notifier.state.events import Event, build_event
from notifier.upstream.statuses import Status, resolve

HOSTILE_PROMPTS = [
    "x" * 40_000,
    "<!channel> <!here> <@U0123> <#C0123|general> *bold* _it_ ~s~ `code` ```block``` > quote & amp",
    "",
    "漢字とひらがな 🎨🖼️ " * 3000,
    "@everyone @here <@123456789012345678> [link](https://evil.example)",
    "a cut emoji \ud83d, a stray \ude00 and a byte from a non-UTF-8 environment \udcff",  # issue #10, case 7
]


def image(code: int = 1, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        **sample_event(0).data["image"],
        "image_status": code,
        "prompt": "a lighthouse at dusk, oil painting",
        "aspect_ratio": "1:1",
        "output_width": 720,
        "output_height": 720,
        "image_url": "https://media.pixverse.ai/image/11223344.webp" if code == 1 else None,
    }
    for derived in ("image_status_name", "image_status_final", "notifier_test"):
        base.pop(derived)
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def event(code: int = 1, previous: Status | None = None, **fields: Any) -> Event:
    img = image(code, **fields)
    return build_event(image=img, account="artist@example.com", status=resolve(img), previous=previous,
                       now=1_764_000_000)


def hostile_events() -> list[Event]:
    events = []
    for prompt in HOSTILE_PROMPTS:
        for code in (1, 7, 8, 9):
            events.append(event(code, prompt=prompt, model=prompt[:500] or None, quality="", seed=None,
                                image_url="https://media.pixverse.ai/i.png?" + "q" * 5000 if code == 1 else None))
            events.append(event(code, prompt=prompt, image_url="https://media.pixverse.ai/i.png"))
    # Every shown field huge and broken at once, and URLs no chat accepts.
    huge = "\ud83d🎨" * 3000
    huge_id = "user:1-image:" + "🎨" * 3000  # ids arrive cleaned (the client), and the event id hashes them
    for code in (1, 8, 6):
        events.append(event(code, prompt=huge, model=huge, quality=huge, aspect_ratio=huge, seed=huge,
                            output_width=huge, output_height=huge, image_id=huge_id,
                            image_url="https://[broken/i.png" if code == 1 else None))
    events.append(event(1, image_url="https://media.pixverse.ai/i.png\ud83d"))
    events.append(event(1, image_url="https://media.pixverse.ai/an image.png"))
    return events


def strict_json(body: bytes) -> Any:
    """The body as the destination reads it: valid UTF-8, JSON without NaN or Infinity."""

    def not_json(constant: str) -> Any:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(body.decode("utf-8"), parse_constant=not_json)


def slack_texts(message: dict[str, Any]) -> Iterator[tuple[str, str, int]]:
    """(type, text, limit) of every text object in a Slack message."""
    for block in message["blocks"]:
        if "text" in block:
            limit = slack.HEADER_MAX if block["type"] == "header" else slack.SECTION_TEXT_MAX
            yield block["text"]["type"], block["text"]["text"], limit
        for field in block.get("fields", []):
            yield field["type"], field["text"], slack.FIELD_TEXT_MAX
        for element in block.get("elements", []):
            if element["type"] == "mrkdwn":
                yield "mrkdwn", element["text"], slack.SECTION_TEXT_MAX
            if element["type"] == "button":
                yield "plain_text", element["text"]["text"], slack.BUTTON_TEXT_MAX


def check_slack_body(body: bytes) -> dict[str, Any]:
    """A Slack message within Slack's limits that pings nobody; returns it."""
    message: dict[str, Any] = strict_json(body)
    assert len(message["blocks"]) <= slack.BLOCKS_MAX
    assert 0 < utf16_len(message["text"]) <= slack.FALLBACK_TEXT_MAX
    assert "<!" not in message["text"] and "<@" not in message["text"]
    for kind, text, limit in slack_texts(message):
        assert 0 < utf16_len(text) <= limit, (kind, text[:80])
        if kind == "mrkdwn":
            assert "<!" not in text and "<@" not in text and "<#" not in text
    for block in message["blocks"]:
        assert len(block.get("fields", [])) <= slack.FIELDS_MAX
        if block["type"] == "image":
            assert 0 < utf16_len(block["alt_text"]) <= slack.ALT_TEXT_MAX
            assert len(block["image_url"]) <= slack.URL_MAX
        for element in block.get("elements", []):
            assert len(element.get("url", "")) <= slack.URL_MAX
    return message


def check_discord_body(body: bytes) -> dict[str, Any]:
    """A Discord message within Discord's embed limits that pings nobody; returns it."""
    message: dict[str, Any] = strict_json(body)
    assert message["allowed_mentions"] == {"parse": []}
    [embed] = message["embeds"]
    assert 0 < utf16_len(embed["title"]) <= discord.TITLE_MAX
    assert 0 < utf16_len(embed["description"]) <= discord.DESCRIPTION_MAX
    assert len(embed["fields"]) <= discord.FIELDS_MAX
    assert all(0 < utf16_len(f["name"]) <= discord.FIELD_NAME_MAX for f in embed["fields"])
    assert all(0 < utf16_len(f["value"]) <= discord.FIELD_VALUE_MAX for f in embed["fields"])
    assert utf16_len(embed["footer"]["text"]) <= discord.FOOTER_MAX
    assert discord._embed_size(embed) <= discord.EMBED_TOTAL_MAX
    assert len(embed.get("image", {}).get("url", "")) <= discord.URL_MAX
    return message
