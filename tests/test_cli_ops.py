"""``notifier events``, ``attempts`` and ``recover`` against a real Redis, on the API's functions."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from notifier.delivery.context import install
from notifier.runtime.settings import Settings
from tests.conftest import SECRET
from tests.support.receiver import Receiver
from tests.support.world import World, make_event, world_settings

pytestmark = pytest.mark.integration


@pytest.fixture
def world(make_settings: Callable[..., Settings], receiver: Callable[..., Receiver], redis_url: str,
          real_redis: redis.Redis) -> Iterator[World]:
    rec = receiver(SECRET)
    world = World(world_settings(make_settings, rec, redis_url, delivery_batch_size=1), real_redis, rec)
    # The first try of every event to "hook" is refused for good; "backup" takes everything.
    rec.script = lambda webhook_id, before: (400, {}, 0.0) if before == 0 else (200, {}, 0.0)
    yield world
    install(None)


def test_the_cli_answers_from_the_same_functions(world: World, capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from notifier import cli, cli_ops

    events = [make_event(now=time.time()) for _ in range(2)]
    world.enqueue(events)
    world.work()
    monkeypatch.setattr(cli, "load_settings", lambda: world.settings)
    assert cli.main(["events", "--outcome", "failed", "--sink", "hook"]) == 0
    listed = capsys.readouterr().out
    assert all(e.id in listed for e in events) and "hook failed" in listed
    assert cli.main(["attempts", events[0].id]) == 0
    shown = capsys.readouterr().out
    assert "#1 hook" in shown and "HTTP 400" in shown and "client_error" in shown
    assert cli.main(["attempts", "evt_unknown"]) == 1
    capsys.readouterr()
    assert cli.main(["recover", "hook", "--since", "1h"]) == 0
    assert "hook: 2 failed deliveries sent again" in capsys.readouterr().out
    world.work()
    assert cli.main(["events", "--outcome", "failed", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert cli_ops.parse_when("2h", 10_000.0) == 2_800.0
    assert cli_ops.parse_when("2026-03-09T12:00:00Z", 0) == cli_ops.parse_when("2026-03-09T12:00:00", 0)
    with pytest.raises(SystemExit):
        cli.main(["recover", "hook", "--since", "yesterday-ish"])
    assert "is not a time" in capsys.readouterr().err
