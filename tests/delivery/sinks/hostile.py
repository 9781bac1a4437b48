"""Events built from hostile upstream data, shared by the chat sink tests."""

from __future__ import annotations

from typing import Any

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
