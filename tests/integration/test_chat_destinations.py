"""Issue #16 end to end, with real worker processes, a real Redis and local fakes of every destination:
Apprise to a local JSON endpoint and a fake Mattermost, a webhook's own headers and payload template, and
Slack threads through a fake of Slack's Web API. The leak scan (conftest) checks every log and Redis value
for the Apprise URLs' tokens, the header values and the bot token."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from rq.registry import FailedJobRegistry

from notifier.delivery.enqueue import make_enqueuer, make_queue
from notifier.delivery.sinks import Sink, build_sinks
from notifier.delivery.sinks.samples import sample_event
from notifier.runtime.sink_config import DiscordConfig, SlackConfig, WebhookConfig
from notifier.runtime.sink_config_chat import AppriseConfig, SlackBotConfig
from notifier.state.events import EVENT_TYPES, Event
from tests.conftest import SECRET
from tests.delivery.sinks.hostile import event
from tests.integration.conftest import Stack
from tests.support.chat_fakes import Endpoint, SlackApi
from tests.support.processes import wait_until
from tests.support.receiver import Receiver

pytestmark = pytest.mark.integration
TOKEN = "t0kenyobjmukpaw3r3urc5h6i369"


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    server = Endpoint()
    yield server
    server.stop()


def enqueue(s: Stack, *events: Event) -> None:
    """Enqueue deliveries as the tracker does (its enqueuer, in one transaction), events in this order."""
    timed = [Event(e.id, e.type, f"2026-03-09T12:00:0{i}.000Z", e.data) for i, e in enumerate(events)]
    enqueuer = make_enqueuer(make_queue(s.redis, s.settings), list(build_sinks(s.settings).values()), s.settings)
    with s.redis.pipeline() as pipe:
        enqueuer(pipe, timed)
        pipe.execute()


def test_apprise_delivers_and_gives_up_after_its_few_tries(stack: Callable[..., Stack], endpoint: Endpoint,
                                                           ) -> None:
    failing = Endpoint()
    failing.statuses.extend([500, 500])
    try:
        s = stack(webhook_url="", webhook_secret="", apprise_sinks=[
            AppriseConfig(url=f"json://127.0.0.1:{endpoint.port}/json/{TOKEN}", name="json_hook"),
            AppriseConfig(url=f"mmost://127.0.0.1:{endpoint.port}/{TOKEN}", name="team_chat", format="markdown"),
            AppriseConfig(url=f"form://127.0.0.1:{failing.port}/form/{TOKEN}", name="down", max_attempts=2),
        ])
        enqueue(s, event(1, prompt="a lighthouse at dusk"))
        worker = s.spawn(["worker"])
        hits = endpoint.wait_for(2)
        by_path = {hit.path: hit for hit in hits}
        assert by_path[f"/json/{TOKEN}"].json()["title"] == "✅ Image completed"
        assert "a lighthouse at dusk" in by_path[f"/json/{TOKEN}"].json()["message"]
        assert "✅ Image completed" in by_path[f"/hooks/{TOKEN}"].json()["text"]  # Mattermost's incoming webhook
        failed = FailedJobRegistry(queue=make_queue(s.redis, s.settings))
        wait_until(lambda: failed.get_job_count(cleanup=False) == 1, 30, "the failing Apprise sink given up")
        assert len(failing.hits) == 2  # NOTIFIER_APPRISE_MAX_ATTEMPTS tries, not the delivery's ten
        log = worker.output()
        assert "apprise: Form notification failed: Failed to send Form POST notification" in log, log
        assert "error=500" in log
    finally:
        failing.stop()


def test_a_webhook_gets_its_headers_and_its_template_signed(stack: Callable[..., Stack]) -> None:
    s = stack(webhook_url="", webhook_secret="")
    key = "k3y-of-the-receiver-0042"
    s.settings = s.settings.model_copy(update={"webhooks": [WebhookConfig(
        url=s.receiver.url, secret=SECRET, name="shaped", headers={"X-Api-Key": key},
        payload_template='{"text": {{ emoji ~ " " ~ title }}, "image": {{ image_id }}, "status": {{ status }}}')]})
    enqueue(s, event(1))
    s.spawn(["worker"])
    [got] = s.receiver.wait_for(lambda got: len(got) == 1, 30)
    assert got.verified, got.error  # the signature covers the rendered body
    assert got.headers["x-api-key"] == key
    assert got.payload is not None and got.payload["text"] == "✅ Image completed"
    assert got.payload["status"] == "COMPLETED" and got.payload["image"].endswith("image:11223344")


def test_slack_threads_one_message_per_image_and_its_statuses_as_replies(stack: Callable[..., Stack]) -> None:
    bot_token = "xoxb-4242-integration-test"
    api = SlackApi(bot_token, "C0123ABCD")
    try:
        s = stack(webhook_url="", webhook_secret="")
        s.settings = s.settings.model_copy(update={"slack_api_url": api.url, "slack_bots": [
            SlackBotConfig(url=api.url, token=bot_token, channel="C0123ABCD", name="team",
                           title_template="{{ emoji }} {{ status|lower }}: {{ prompt }}")]})
        enqueue(s, *(event(code, prompt="a red kite") for code in (5, 9, 1)))
        worker = s.spawn(["worker"])
        try:
            wait_until(lambda: len(api.messages) == 3 and all(len(p.updates) == 2 for p in api.parents()), 30,
                       "a thread of three statuses")
        except AssertionError:
            print(worker.output(), api.calls)
            raise
        [parent] = api.parents()
        statuses = ["⏳ generating: a red kite", "✅ completed: a red kite"]
        assert parent.blocks[0]["text"]["text"] == statuses[-1]  # the first message shows the latest status
        assert [text.rsplit(": ", 1)[0] for text in parent.updates] == statuses
        assert [r.blocks[0]["text"]["text"] for r in api.replies(parent.ts)] == statuses
    finally:
        api.stop()


def test_templates_render_every_event_type_to_every_kind_of_destination(receiver: Callable[..., Receiver],
                                                                        endpoint: Endpoint) -> None:
    """A sample of each type of the code's catalogue, through each sink's templates, to local fakes."""
    rec = receiver()
    template = "{{ emoji }} {{ type }} of {{ item_id }} ({{ previous_status }} → {{ status }})"
    sinks = [
        Sink(WebhookConfig(url=rec.url, secret=SECRET, name="hook", headers={"X-Api-Key": "k3y-0123456"},
                           payload_template='{"text": {{ title }}, "type": {{ type }}, "final": {{ final }}}')),
        Sink(SlackConfig(url=rec.url, name="slack", title_template=template, text_template="*{{ prompt }}*")),
        Sink(DiscordConfig(url=rec.url, name="discord", title_template=template)),
        Sink(AppriseConfig(url=f"json://127.0.0.1:{endpoint.port}/all/{TOKEN}", name="apprise",
                           title_template=template, format="html")),
    ]
    with httpx.Client() as client:
        for event_type in sorted(EVENT_TYPES):
            event = sample_event(event_type)
            for sink in sinks:
                sink.send(client, sink.build_request(event, time.time()), 5)
    got = rec.wait_for(lambda got: len(got) == 3 * len(EVENT_TYPES), 30)
    hooks = [r for r in got if r.headers.get("x-api-key")]
    assert all(r.verified for r in hooks) and sorted(r.payload["type"] for r in hooks if r.payload) == sorted(
        EVENT_TYPES)
    slack_titles = [r.payload["blocks"][0]["text"]["text"] for r in got if r.payload and "blocks" in r.payload]
    discord_titles = [r.payload["embeds"][0]["title"] for r in got if r.payload and "embeds" in r.payload]
    apprise_titles = [hit.json()["title"] for hit in endpoint.wait_for(len(EVENT_TYPES))]
    for titles in (slack_titles, discord_titles, apprise_titles):
        assert sorted(t.split(" ")[1] for t in titles) == sorted(EVENT_TYPES), titles
