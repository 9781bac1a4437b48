import json
from typing import Any

import httpx
import pytest

from notifier.delivery.sinks import slack
from notifier.errors import DeliveryError
from notifier.runtime.sink_config import SlackConfig
from tests.delivery.sinks.hostile import check_slack_body, event, hostile_events
from tests.delivery.sinks.hostile import slack_texts as texts

CONFIG = SlackConfig(url="https://hooks.slack.com/services/T000/B000/XXXX")


def blocks_of(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [b for b in message["blocks"] if b["type"] == kind]


def test_completed_message() -> None:
    message = slack.build_message(event(1, image_url="https://media.pixverse.ai/image/7.png"))
    header = blocks_of(message, "header")[0]["text"]["text"]
    assert header == "✅ Image completed"
    assert message["blocks"][1]["text"] == {"type": "plain_text", "text": "a lighthouse at dusk, oil painting"}
    fields = [f["text"] for f in blocks_of(message, "section")[1]["fields"]]
    assert fields == ["*Model*\nqwen-image", "*Quality*\n720p", "*Aspect ratio*\n1:1", "*Size*\n720×720",
                      "*Seed*\n123456", "*Account*\nartist@example.com"]
    image = blocks_of(message, "image")[0]
    assert image["image_url"].endswith("7.png")
    assert image["alt_text"] == "a lighthouse at dusk, oil painting"
    assert blocks_of(message, "actions")[0]["elements"][0]["url"].endswith("7.png")
    assert message["text"].startswith("✅ Image completed: a lighthouse")


def test_webp_gets_a_link_not_an_image_block() -> None:
    request = slack.build_request(event(1), CONFIG, 0)
    message = json.loads(request.body)
    assert blocks_of(message, "image") == []
    assert blocks_of(message, "actions")[0]["elements"][0]["url"].endswith(".webp")
    assert request.fallback_body is None


@pytest.mark.parametrize("refusal", ["invalid_blocks", "downloading image failed"])
def test_an_image_slack_cannot_fetch_is_dropped_and_sent_again(refusal: str) -> None:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(400, text=refusal) if len(sent) == 1 else httpx.Response(200, text="ok")

    request = slack.build_request(event(1, image_url="https://media.pixverse.ai/image/7.jpg"), CONFIG, 0)
    response = slack.send(httpx.Client(transport=httpx.MockTransport(handler)), request, 5)
    assert response.status_code == 200 and response.text == "ok"
    assert [len(blocks_of(m, "image")) for m in sent] == [1, 0]
    assert blocks_of(sent[1], "actions")  # the link is still there


def test_other_refusals_are_not_sent_again() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(404, text="channel_not_found")

    request = slack.build_request(event(1, image_url="https://media.pixverse.ai/image/7.jpg"), CONFIG, 0)
    with pytest.raises(DeliveryError, match="channel_not_found") as caught:
        slack.send(httpx.Client(transport=httpx.MockTransport(handler)), request, 5)
    assert not caught.value.retryable and len(calls) == 1
    assert "XXXX" not in str(caught.value)


@pytest.mark.parametrize(("code", "title", "warning"), [(7, "⚠️ Image moderated", "moderation"),
                                                         (8, "❌ Image failed", "could not generate")])
def test_moderated_and_failed_are_warnings_without_image(code: int, title: str, warning: str) -> None:
    message = slack.build_message(event(code))
    assert blocks_of(message, "header")[0]["text"]["text"] == title
    assert warning in message["blocks"][1]["text"]["text"]
    assert message["blocks"][2]["text"]["text"] == "a lighthouse at dusk, oil painting"
    assert [f["text"] for f in blocks_of(message, "section")[2]["fields"]] == ["*Account*\nartist@example.com"]
    assert blocks_of(message, "image") == [] and blocks_of(message, "actions") == []


def test_intermediate_status_message() -> None:
    message = slack.build_message(event(9))
    assert blocks_of(message, "header")[0]["text"]["text"] == "⏳ Image generating"


def test_hostile_data_stays_within_slack_limits_and_pings_nobody() -> None:
    for ev in hostile_events():
        request = slack.build_request(ev, CONFIG, 0)
        for body in filter(None, (request.body, request.fallback_body)):
            message = check_slack_body(body)
            if len(ev.data["image"].get("prompt", "")) > slack.SECTION_TEXT_MAX:
                assert any(text.endswith("… (cut)") for _, text, _ in texts(message))


def test_plain_ok_is_success() -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200, text="ok")))
    assert slack.send(client, slack.build_request(event(1), CONFIG, 0), 5).text == "ok"


@pytest.mark.parametrize("url", ["https://[broken/i.png", "https://media.pixverse.ai/a b.png", "https://\ud83d/x.png"])
def test_a_url_slack_would_refuse_is_not_linked(url: str) -> None:
    # Slack refuses the whole message for a malformed URL, with or without the image block.
    request = slack.build_request(event(1, image_url=url), CONFIG, 0)
    message = json.loads(request.body)
    assert blocks_of(message, "image") == [] and blocks_of(message, "actions") == []


def test_broken_text_is_sent_as_valid_utf8() -> None:
    request = slack.build_request(event(8, prompt="cat \ud83d", model="m\udcff"), CONFIG, 0)
    message = json.loads(request.body.decode("utf-8"))
    assert message["blocks"][2]["text"]["text"] == "cat \ufffd"


def test_the_timestamp_is_escaped_too() -> None:
    # Found by test_fuzz_sinks.py: the context line escaped the image id but not the timestamp.
    from notifier.state.events import Event

    ev = event(1)
    forged = Event(id=ev.id, type=ev.type, timestamp="<!channel>", data=ev.data)
    [context] = blocks_of(slack.build_message(forged), "context")
    assert "<!" not in context["elements"][0]["text"]
