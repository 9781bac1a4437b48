"""Slack and Discord messages of videos and of stalled work (``present.py`` says what, the sinks how)."""

from typing import Any

from notifier.delivery.sinks import discord, slack
from notifier.state.events import STALLED, Event, build_event
from notifier.upstream.media import VIDEOS
from notifier.upstream.statuses import Status

VIDEO: dict[str, Any] = {
    "video_id": "user:1-pixverse:a@x.com-video:9", "video_status": 1, "model": "v5", "duration": 5,
    "prompt": "waves at dusk", "url": "https://media.pixverse.ai/video/9.mp4",
    "first_frame": "https://media.pixverse.ai/video/9-first.jpg",
}


def completed(**changes: Any) -> Event:
    return build_event(image={**VIDEO, **changes}, account="a@x.com", status=Status("COMPLETED", 1, True),
                       previous=Status("GENERATING", 10, False), now=100.0, medium=VIDEOS,
                       timing={"queued_s": 10.0, "generating_s": 65.0, "total_s": 75.0})


def test_slack_video_has_a_button_to_the_video_and_its_first_frame() -> None:
    message = slack.build_message(completed())
    assert message["blocks"][0]["text"]["text"] == "✅ Video completed"
    images = [b for b in message["blocks"] if b["type"] == "image"]
    assert [b["image_url"] for b in images] == [VIDEO["first_frame"]]
    buttons = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == [{"type": "button", "text": {"type": "plain_text", "text": "Open video"}, "url": VIDEO["url"]}]
    fields = [f["text"] for b in message["blocks"] if "fields" in b for f in b["fields"]]
    assert "*Duration*\n5 s" in fields and "*Generation time*\n1 min 15 s" in fields
    # No still from the upstream: the button alone, never the video file as an image.
    bare = slack.build_message(completed(first_frame=None))
    assert not [b for b in bare["blocks"] if b["type"] == "image"]
    assert [b for b in bare["blocks"] if b["type"] == "actions"]


def test_discord_video_links_the_video_and_shows_the_first_frame() -> None:
    embed = discord.build_message(completed())["embeds"][0]
    assert embed["title"] == "✅ Video completed"
    assert embed["url"] == VIDEO["url"] and embed["image"] == {"url": VIDEO["first_frame"]}
    assert {"name": "Video", "value": f"[Open video]({VIDEO['url']})", "inline": False} in embed["fields"]
    assert embed["footer"]["text"] == VIDEO["video_id"]


def test_stalled_message_says_it_is_stuck() -> None:
    event = build_event(image={**VIDEO, "video_status": 10}, account="a@x.com", status=Status("GENERATING", 10, False),
                        previous=None, now=100.0, medium=VIDEOS, kind=STALLED, age_s=1250.0)
    message = slack.build_message(event)
    assert message["blocks"][0]["text"]["text"] == "🐢 Video stalled"
    texts = [b["text"]["text"] for b in message["blocks"] if b["type"] == "section" and "text" in b]
    assert any("much longer than usual" in t for t in texts)
    fields = [f["text"] for b in message["blocks"] if "fields" in b for f in b["fields"]]
    assert "*In progress for*\n20 min 50 s" in fields and "*Status*\nGENERATING" in fields
    assert not [b for b in message["blocks"] if b["type"] == "actions"]
    embed = discord.build_message(event)["embeds"][0]
    assert embed["title"] == "🐢 Video stalled" and "url" not in embed
