import json

import httpx
import pytest

from notifier.delivery.policy import later
from notifier.delivery.sinks import discord
from notifier.errors import DeliveryError
from notifier.runtime.sink_config import DiscordConfig
from tests.delivery.sinks.hostile import check_discord_body, event, hostile_events

CONFIG = DiscordConfig(url="https://discord.com/api/webhooks/1/tok3n")


@pytest.mark.parametrize(
    ("code", "title", "color", "has_image"),
    [(1, "✅ Image completed", 0x2EB67D, True), (7, "⚠️ Image moderated", 0xECB22E, False),
     (8, "❌ Image failed", 0xE01E5A, False), (10, "⏳ Image processing", 0x36C5F0, False)],
)
def test_embed_per_outcome(code: int, title: str, color: int, has_image: bool) -> None:
    message = discord.build_message(event(code))
    assert message["allowed_mentions"] == {"parse": []}
    embed = message["embeds"][0]
    assert (embed["title"], embed["color"]) == (title, color)
    assert embed["description"] == "a lighthouse at dusk, oil painting"
    assert {f["name"]: f["value"] for f in embed["fields"]}["Account"] == "artist@example.com"
    assert ("image" in embed) is has_image
    if has_image:
        assert embed["image"]["url"].endswith(".webp")  # Discord shows webp


def test_hostile_data_stays_within_discord_limits() -> None:
    for ev in hostile_events():
        check_discord_body(discord.build_request(ev, CONFIG, 0).body)


def test_429_retry_after_from_the_json_body() -> None:
    answer = httpx.Response(429, json={"message": "You are being rate limited.", "retry_after": 1.5, "global": False})
    client = httpx.Client(transport=httpx.MockTransport(lambda r: answer))
    with pytest.raises(DeliveryError) as caught:
        discord.send(client, discord.build_request(event(1), CONFIG, 0), 5)
    assert caught.value.retryable and caught.value.retry_after_s == 1.5
    assert "tok3n" not in str(caught.value)


def test_no_content_is_success() -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(204)))
    assert discord.send(client, discord.build_request(event(1), CONFIG, 0), 5).status_code == 204


def test_every_field_huge_still_fits_the_embed_total() -> None:
    # Cutting only the description cannot make room when the fields and footer alone pass 6000.
    huge = "x" * 5000
    ev = event(1, model=huge, quality=huge, aspect_ratio=huge, seed=huge, output_width=huge, output_height=huge,
               image_id="user:1-image:" + huge)
    embed = json.loads(discord.build_request(ev, CONFIG, 0).body)["embeds"][0]
    assert discord._embed_size(embed) <= discord.EMBED_TOTAL_MAX
    assert all(f["value"] for f in embed["fields"]) and embed["footer"]["text"]


@pytest.mark.parametrize("url", ["https://[broken/i.png", "https://media.pixverse.ai/a b.png", "https://\ud83d/x.png"])
def test_a_url_discord_would_refuse_is_not_linked(url: str) -> None:
    embed = json.loads(discord.build_request(event(1, image_url=url), CONFIG, 0).body)["embeds"][0]
    assert "url" not in embed and "image" not in embed


@pytest.mark.parametrize(("body", "expected"), [
    (b'{"retry_after": 1e9}', 3600.0),          # would reschedule the delivery 31 years out
    (b'{"retry_after": Infinity}', 3600.0),     # would raise OverflowError when rescheduling
    (b'{"retry_after": -5}', 0.0),
    (b'{"retry_after": NaN}', None),            # meaningless: the default wait applies
])
def test_429_retry_after_is_capped_and_finite(body: bytes, expected: float | None) -> None:
    answer = httpx.Response(429, content=body, headers={"content-type": "application/json"})
    client = httpx.Client(transport=httpx.MockTransport(lambda r: answer))
    with pytest.raises(DeliveryError) as caught:
        discord.send(client, discord.build_request(event(1), CONFIG, 0), 5)
    assert caught.value.retryable and caught.value.retry_after_s == expected
    if expected is not None:
        assert later(None, expected).intervals[0] <= 3600
