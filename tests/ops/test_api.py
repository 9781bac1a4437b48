"""The HTTP API against a real Redis, with events delivered (and failed) by the real delivery jobs."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
import redis
from fastapi.testclient import TestClient
from redis.backoff import NoBackoff
from redis.retry import Retry

from notifier.delivery.context import install
from notifier.ops.api import Authorizer, create_app
from notifier.runtime.settings import Settings
from tests.conftest import SECRET
from tests.support.receiver import Receiver
from tests.support.world import World, make_event, world_settings

pytestmark = pytest.mark.integration
READ, WRITE = "read-token-0123456789", "write-token-0123456789"


@pytest.fixture
def world(make_settings: Callable[..., Settings], receiver: Callable[..., Receiver], redis_url: str,
          real_redis: redis.Redis) -> Iterator[World]:
    rec = receiver(SECRET)
    settings = world_settings(make_settings, rec, redis_url, delivery_batch_size=1,
                              api_token=f"read:{READ}, write:{WRITE}")
    world = World(settings, real_redis, rec)
    # The first try of every event to "hook" is refused for good; "backup" takes everything.
    rec.script = lambda webhook_id, before: (400, {}, 0.0) if before == 0 else (200, {}, 0.0)
    yield world
    install(None)


def client(world: World, token: str | None = READ) -> TestClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return TestClient(create_app(world.settings, world.redis), headers=headers)


def test_events_are_filtered_paginated_and_shown_with_their_attempts(world: World) -> None:
    now = time.time()
    events = [make_event(now=now - 60 + n, account=f"artist{n % 2}@example.com") for n in range(5)]
    world.enqueue(events)
    world.work()
    api = client(world)
    everything = api.get("/api/events").json()
    assert [e["id"] for e in everything["events"]] == [e.id for e in reversed(events)]  # newest first
    assert everything["events"][0]["outcome"] == "failed"
    assert everything["events"][0]["sinks"]["backup"]["outcome"] == "delivered"
    assert {e["account"] for e in api.get("/api/events", params={"account": "artist1@example.com"}).json()["events"]} \
        == {"artist1@example.com"}
    assert api.get("/api/events", params={"medium": "video"}).json()["events"] == []
    assert len(api.get("/api/events", params={"sink": "hook", "outcome": "failed"}).json()["events"]) == 5
    assert api.get("/api/events", params={"sink": "backup", "outcome": "failed"}).json()["events"] == []
    assert [e["id"] for e in api.get("/api/events", params={"id": events[2].id}).json()["events"]] == [events[2].id]
    window = {"since": now - 59.5, "until": now - 57.5}
    assert [e["id"] for e in api.get("/api/events", params=window).json()["events"]] == [events[2].id, events[1].id]
    first = api.get("/api/events", params={"limit": 2}).json()
    second = api.get("/api/events", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [e["id"] for e in first["events"] + second["events"]] == [e.id for e in reversed(events)][:4]

    detail = api.get(f"/api/events/{events[0].id}").json()
    assert detail["payload"]["data"]["image_id"] == events[0].data["image_id"]
    hook = [a for a in detail["attempts"] if a["sink"] == "hook"]
    assert [(a["attempt"], a["outcome"], a["status"], a["error_class"]) for a in hook] == \
        [(1, "failed", 400, "client_error")]
    timeline = api.get(f"/api/items/{events[0].data['image_id']}/timeline").json()
    assert [e["id"] for e in timeline["events"]] == [events[0].id]


def test_replay_and_recover_go_through_the_delivery_queue_and_add_attempts(world: World) -> None:
    events = [make_event(now=time.time()) for _ in range(3)]
    world.enqueue(events)
    world.work()
    api = client(world, WRITE)
    replayed = api.post(f"/api/events/{events[0].id}/replay", json={"sink": "hook"})
    assert replayed.status_code == 202 and replayed.json()["how"] == "requeued"
    assert api.post(f"/api/events/{events[0].id}/replay", json={"sink": "hook"}).json()["how"] == "pending"
    # A delivered event has no job left: it is enqueued again from the logged payload.
    assert api.post(f"/api/events/{events[0].id}/replay", json={"sink": "backup"}).json()["how"] == "enqueued"
    world.work()
    hook = [a for a in api.get(f"/api/events/{events[0].id}").json()["attempts"] if a["sink"] == "hook"]
    assert [(a["attempt"], a["outcome"]) for a in hook] == [(1, "failed"), (2, "delivered")]
    signed = [r for r in world.receiver.received if r.webhook_id == events[0].id]
    assert len(signed) == 4 and all(r.verified for r in signed)  # same signing, same webhook-id

    recovered = api.post("/api/sinks/hook/recover", json={"since": "2020-01-01T00:00:00Z"}).json()
    assert sorted(r["event_id"] for r in recovered["replayed"]) == sorted(e.id for e in events[1:])
    world.work()
    assert api.get("/api/events", params={"outcome": "failed"}).json()["events"] == []
    later = api.post("/api/sinks/hook/recover", json={"since": time.time() + 60, "until": time.time() + 120})
    assert later.json()["replayed"] == []
    backwards = api.post("/api/sinks/hook/recover", json={"since": time.time() + 60})
    assert backwards.status_code == 422 and backwards.json()["detail"] == "until is before since"


def test_test_send_is_delivered_and_logged(world: World) -> None:
    world.receiver.script = None
    api = client(world, WRITE)
    sent = api.post("/api/sinks/backup/test").json()
    world.work()
    logged = api.get(f"/api/events/{sent['event_id']}").json()
    assert logged["payload"]["data"]["image"]["notifier_test"] is True
    assert [a["outcome"] for a in logged["attempts"]] == ["delivered"]


def test_sinks_show_health_and_never_a_secret(world: World) -> None:
    world.enqueue([make_event(now=time.time())])
    world.work()
    api = client(world)
    sinks = {s["name"]: s for s in api.get("/api/sinks").json()["sinks"]}
    assert sinks["hook"]["failures_last_hour"] == 1 and sinks["hook"]["failed"] == 1
    assert sinks["backup"]["last_success_at"] is not None and sinks["backup"]["circuit"]["state"] == "closed"
    shown = json.dumps([api.get(p).text for p in ("/api/sinks", "/api/events", "/", "/console/console.js")])
    for secret in ("sup3r-s3cret-query", "s3cr3t-path-token", SECRET.removeprefix("whsec_"), READ, WRITE):
        assert secret not in shown


def test_tokens_have_scopes_and_errors_say_what_is_wrong(world: World) -> None:
    assert client(world, None).get("/api/events").status_code == 401
    assert client(world, "nope-nope-nope-nope").get("/api/events").json() == {"detail": "unknown token"}
    assert client(world, READ).get("/api/sinks").status_code == 200
    refused = client(world, READ).post("/api/sinks/hook/test")
    assert (refused.status_code, refused.json()["detail"]) == (403, "this operation needs a write token")
    api = client(world, WRITE)
    assert api.get("/api/sinks").status_code == 200
    missing = api.post("/api/events/evt_nothing/replay", json={"sink": "hook"})
    assert missing.status_code == 404 and "not in the attempt log" in missing.json()["detail"]
    assert api.post("/api/sinks/nowhere/test").json() == {"detail": "no sink named 'nowhere' is configured"}
    assert api.get("/api/events", params={"limit": 0}).status_code == 422
    assert client(world, None).get("/").status_code == 200  # the page itself holds no data


def test_a_write_token_wins_over_a_read_token_and_every_token_is_compared() -> None:
    auth = Authorizer("read:aaaaaaaaaaaaaaaa write:bbbbbbbbbbbbbbbb cccccccccccccccc")
    assert [auth.scope_of(t) for t in ("aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "cccccccccccccccc", "x")] == \
        ["read", "write", "write", None]
    assert Authorizer("").open


def test_redis_away_is_a_503_not_a_500(world: World, make_settings: Callable[..., Settings]) -> None:
    dead = redis.Redis(host="127.0.0.1", port=9, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    api = TestClient(create_app(world.settings, dead), headers={"Authorization": f"Bearer {READ}"})
    answer = api.get("/api/events")
    assert answer.status_code == 503 and "Redis is not answering" in answer.json()["detail"]



def test_an_apprise_sink_shows_its_scheme_only(make_settings: Callable[..., Settings], redis_url: str,
                                              real_redis: redis.Redis) -> None:
    settings = make_settings(redis_url=redis_url, apprise_urls="tgram://123456789:AAbotTOKENsecret0123/4567890")
    answer = TestClient(create_app(settings, real_redis)).get("/api/sinks")
    sinks = answer.json()["sinks"]
    assert [s["url"] for s in sinks] == ["tgram://…"]
    assert "AAbotTOKENsecret0123" not in answer.text and "123456789" not in answer.text
