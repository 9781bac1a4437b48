"""Property tests (fuzzing) of the sinks' builders: any event data gives a request whose body is valid UTF-8
JSON within the destination's limits, never an exception. Issue #10, "What must hold"."""

from __future__ import annotations

import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from notifier.delivery.sinks import apprise, discord, slack, slack_bot, webhook
from notifier.runtime.sink_config import DiscordConfig, SlackConfig, WebhookConfig
from notifier.runtime.sink_config_chat import AppriseConfig, SlackBotConfig
from notifier.state.events import EVENT_TYPES, Event
from tests.conftest import SECRET
from tests.delivery.sinks.hostile import check_discord_body, check_slack_body, strict_json
from tests.support.strategies import images, json_values, texts

WEBHOOK = WebhookConfig(url="https://hooks.example/t0ken", secret=SECRET)
SLACK = SlackConfig(url="https://hooks.slack.com/services/T000/B000/XXXX")
DISCORD = DiscordConfig(url="https://discord.com/api/webhooks/1/tok3n")

DATA_FIELDS = ("image_id", "email", "status", "status_code", "final", "previous_status", "image_url", "image")


@st.composite
def events(draw: st.DrawFn) -> Event:
    """An event as a job might carry it: the tracker's shape, with any data field missing or of any type."""
    image = draw(images())
    data: dict[str, Any] = {
        "image_id": image.get("image_id"),
        "email": "a@x.com",
        "status": "COMPLETED",
        "status_code": 1,
        "final": True,
        "previous_status": None,
        "image_url": image.get("image_url"),
        "image": image,
    }
    for field in draw(st.lists(st.sampled_from(DATA_FIELDS), unique=True, max_size=3)):
        if draw(st.booleans()):
            data[field] = draw(json_values)
        else:
            data.pop(field)
    event_type = draw(st.sampled_from(sorted(EVENT_TYPES)) | texts)
    timestamp = draw(st.just("2026-03-09T12:34:58.120Z") | texts)
    return Event(id="evt_0123456789abcdef0123456789abcdef", type=event_type, timestamp=timestamp, data=data)


fuzz = settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@fuzz
@given(events())
def test_fuzz_webhook_build_request(event: Event) -> None:
    request = webhook.build_request(event, WEBHOOK, time.time())
    payload = strict_json(request.body)
    assert Webhook(SECRET).verify(request.body, request.headers) == payload
    assert payload["type"] == event.type or "\ufffd" in payload["type"]
    assert set(payload["data"]) == set(event.data)


@fuzz
@given(events())
def test_fuzz_slack_build_request(event: Event) -> None:
    request = slack.build_request(event, SLACK, 0)
    for body in filter(None, (request.body, request.fallback_body)):
        check_slack_body(body)


@fuzz
@given(events())
def test_fuzz_discord_build_request(event: Event) -> None:
    check_discord_body(discord.build_request(event, DISCORD, 0).body)


APPRISE = [AppriseConfig(url="json://127.0.0.1/x", format=f) for f in ("text", "markdown", "html")]
BOT = SlackBotConfig(url="https://slack.com/api", token="xoxb-1-fuzz", channel="C0123ABCD")


@fuzz
@given(events(), st.sampled_from(APPRISE))
def test_fuzz_apprise_and_slack_bot_build_request(event: Event, config: AppriseConfig) -> None:
    message = strict_json(apprise.build_request(event, config, 0).body)
    assert message["title"] and message["body"] and message["type"] in ("success", "warning", "failure", "info")
    assert len(message["body"]) <= apprise.BODY_MAX
    request = slack_bot.build_request(event, BOT, 0)
    for body in filter(None, (request.body, request.fallback_body)):
        check_slack_body(body)
    assert request.thread is not None and request.thread.item
