"""Slack threads through the Web API (a local fake of it): one first message per item, replies, updates."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import fakeredis
import httpx
import pytest

from notifier.delivery.retry_table import Outcome, classify, slack_api_status
from notifier.delivery.sinks import Sink
from notifier.delivery.threads import ThreadStore
from notifier.errors import DeliveryError
from notifier.runtime.sink_config_chat import SlackBotConfig
from notifier.state.events import Event
from notifier.state.keys import Keys
from notifier.upstream.statuses import resolve
from tests.delivery.sinks.hostile import event
from tests.support.chat_fakes import SlackApi

TOKEN, CHANNEL = "xoxb-1234-test-token", "C0123ABCD"
QUEUED, GENERATING, COMPLETED = (event(5), event(9, previous=resolve({"image_status": 5})),
                                 event(1, previous=resolve({"image_status": 9})))


@pytest.fixture
def api() -> Iterator[SlackApi]:
    server = SlackApi(TOKEN, CHANNEL)
    yield server
    server.stop()


@pytest.fixture
def sink(api: SlackApi) -> Sink:
    config = SlackBotConfig(url=api.url, token=TOKEN, channel=CHANNEL, name="team")
    return Sink(config, threads=ThreadStore(fakeredis.FakeRedis(), Keys("t"), 3600))


def deliver(sink: Sink, ev: Event) -> str:
    with httpx.Client() as client:
        return sink.send(client, sink.build_request(ev, 0), 5).text


def in_order(*events: Event) -> list[Event]:
    # Real events of one image carry increasing detection times.
    return [Event(e.id, e.type, f"2026-03-09T12:00:0{i}.000Z", e.data) for i, e in enumerate(events)]


def test_one_message_per_image_with_its_statuses_in_the_thread(api: SlackApi, sink: Sink) -> None:
    queued, generating, completed = in_order(QUEUED, GENERATING, COMPLETED)
    assert deliver(sink, queued) == "posted the item's first message"
    assert deliver(sink, generating) == "replied in the thread, first message updated"
    assert deliver(sink, completed) == "replied in the thread, first message updated"
    [parent] = api.parents()
    replies = api.replies(parent.ts)
    assert [r.text.split(":")[0] for r in replies] == ["⏳ Image generating", "✅ Image completed"]
    assert parent.text.startswith("✅ Image completed")  # the first message shows the latest status
    assert [u.split(":")[0] for u in parent.updates] == ["⏳ Image generating", "✅ Image completed"]
    # Tried again (a crash after the send, before the job was recorded done): nothing is posted twice.
    for ev in (queued, generating, completed):
        deliver(sink, ev)
    assert len(api.messages) == 3


def test_an_older_status_delivered_late_does_not_take_the_first_message_back(api: SlackApi, sink: Sink) -> None:
    queued, generating, completed = in_order(QUEUED, GENERATING, COMPLETED)
    deliver(sink, queued)
    deliver(sink, completed)
    assert deliver(sink, generating) == "replied in the thread (the first message shows a later status)"
    [parent] = api.parents()
    assert parent.text.startswith("✅ Image completed") and len(api.replies(parent.ts)) == 2


def test_two_events_of_one_image_at_once_make_one_first_message(api: SlackApi, sink: Sink) -> None:
    queued, generating = in_order(QUEUED, GENERATING)
    api.delay_s = 0.3
    outcomes: dict[str, str] = {}

    def run(ev: Event) -> None:
        try:
            outcomes[ev.type] = deliver(sink, ev)
        except DeliveryError as exc:
            outcomes[ev.type] = f"retry {exc.status_code} after {exc.retry_after_s}"

    threads = [threading.Thread(target=run, args=(ev,)) for ev in (queued, generating)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes.values()) == ["posted the item's first message", "retry 409 after 1.0"]
    [loser] = [ev for ev in (queued, generating) if outcomes[ev.type].startswith("retry")]
    assert deliver(sink, loser).startswith("replied in the thread")  # its next try
    assert len(api.parents()) == 1 and len(api.messages) == 2


def test_a_failed_first_post_leaves_no_thread_and_the_next_try_posts_it(api: SlackApi, sink: Sink) -> None:
    queued, generating = in_order(QUEUED, GENERATING)
    api.fail("chat.postMessage", "internal_error")
    with pytest.raises(DeliveryError, match="internal_error") as caught:
        deliver(sink, queued)
    assert caught.value.retryable and caught.value.status_code == 500
    assert deliver(sink, generating) == "posted the item's first message"  # the claim was given up
    assert deliver(sink, queued) == "replied in the thread (the first message shows a later status)"
    assert len(api.parents()) == 1 and len(api.messages) == 2


def test_a_failed_update_is_tried_again_without_a_second_reply(api: SlackApi, sink: Sink) -> None:
    queued, generating = in_order(QUEUED, GENERATING)
    deliver(sink, queued)
    api.fail("chat.update", "ratelimited")
    with pytest.raises(DeliveryError) as caught:
        deliver(sink, generating)
    assert caught.value.status_code == 429 and caught.value.retryable
    assert deliver(sink, generating) == "replied in the thread, first message updated"
    [parent] = api.parents()
    assert len(api.replies(parent.ts)) == 1 and parent.text.startswith("⏳ Image generating")


def test_a_deleted_first_message_starts_a_new_thread(api: SlackApi, sink: Sink) -> None:
    queued, generating, completed = in_order(QUEUED, GENERATING, COMPLETED)
    deliver(sink, queued)
    api.fail("chat.update", "message_not_found")
    assert "next event starts a new thread" in deliver(sink, generating)
    assert deliver(sink, completed) == "posted the item's first message"
    assert len(api.parents()) == 2


@pytest.mark.parametrize(("error", "status", "outcome"), [
    ("ratelimited", 429, Outcome.RETRY), ("internal_error", 500, Outcome.RETRY),
    ("invalid_auth", 401, Outcome.PERMANENT), ("channel_not_found", 404, Outcome.PERMANENT),
    ("is_archived", 410, Outcome.PERMANENT), ("something_new", 400, Outcome.PERMANENT),
])
def test_slack_errors_go_through_the_retry_table(error: str, status: int, outcome: Outcome) -> None:
    assert slack_api_status(error) == status and classify(status) is outcome


def test_a_wrong_token_is_final_and_not_shown(api: SlackApi) -> None:
    config = SlackBotConfig(url=api.url, token="xoxb-wrong-token-value", channel=CHANNEL)
    bot = Sink(config)  # no thread store: one message per event
    with pytest.raises(DeliveryError, match="invalid_auth") as caught:
        deliver(bot, QUEUED)
    assert not caught.value.retryable and caught.value.status_code == 401
    assert "xoxb" not in str(caught.value)


def test_redis_away_is_a_delivery_error_to_try_again(api: SlackApi) -> None:
    server = fakeredis.FakeServer()
    config = SlackBotConfig(url=api.url, token=TOKEN, channel=CHANNEL, name="team")
    bot = Sink(config, threads=ThreadStore(fakeredis.FakeRedis(server=server), Keys("t"), 3600))
    server.connected = False
    with pytest.raises(DeliveryError, match="could not be kept in Redis") as caught:
        deliver(bot, QUEUED)
    assert caught.value.retryable and api.messages == []
