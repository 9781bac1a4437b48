"""A realistic sample event, marked as a test in its data: what a test send sends. Pure."""

from __future__ import annotations

from notifier.state.events import Event, build_event
from notifier.upstream.statuses import resolve


def sample_event(now: float) -> Event:
    image = {
        "image_id": "user:1234-pixverse:artist@example.com-image:11223344",
        "image_status": 1,
        "image_status_name": "COMPLETED",
        "image_status_final": True,
        "model": "qwen-image",
        "prompt": "A lighthouse on a cliff at dusk, warm light in the windows, oil painting (notifier test message)",
        "quality": "720p",
        "aspect_ratio": "16:9",
        "seed": 123456,
        "output_width": 1280,
        "output_height": 720,
        "image_url": "https://media.pixverse.ai/image/11223344.webp",
        "created_at": "2026-03-09T12:34:56Z",
        "notifier_test": True,
    }
    return build_event(image=image, account="artist@example.com", status=resolve(image),
                       previous=resolve({"image_status": 10}), now=now)
