"""Several tokens: each source's accounts polled with its own token, state kept apart, events named by source,
and a token the upstream refuses (401) or throttles (429) pausing only its own accounts."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import fakeredis
import pytest

from notifier.errors import ConfigError
from notifier.runtime.app import build_poller
from notifier.runtime.settings import Settings, load_settings
from notifier.sandbox.simulator import Simulator
from notifier.state.keys import Keys
from tests.conftest import TOKEN

A, B = "a@x.com", "b@x.com"
TOKEN_B = "user:5678-secondTOKENvalue"


def _poller(make_settings: Callable[..., Settings], sim: Simulator, redis: fakeredis.FakeRedis) -> Any:
    sim.state.tokens.add(TOKEN_B)
    for email in (A, B):
        sim.state.add_history(email, 2)
    settings = make_settings(useapi_base_url=sim.url, accounts=[A], poll_interval_s=0.1, poll_interval_active_s=0.1,
                             key_prefix="src",
                             sources=[{"name": "team_b", "token": TOKEN_B, "base_url": sim.url, "accounts": [A, B]}])
    return build_poller(settings, redis)


def test_two_sources_holding_one_email_keep_apart_and_name_their_events(
    make_settings: Callable[..., Settings], simulator: Callable[..., Simulator], fake_redis: fakeredis.FakeRedis,
) -> None:
    sim = simulator()
    sim.state.log = []
    poller = _poller(make_settings, sim, fake_redis)
    try:
        assert poller.run_cycle(force=True).errors == {}
        image = sim.state.add_image(A, 5)
        result = poller.run_cycle(force=True)
    finally:
        poller.close()
    assert {(r.token, r.email) for r in sim.state.log} == {(TOKEN, A), (TOKEN_B, A), (TOKEN_B, B)}
    events = {(e.data["source"], e.data["image_id"]): e for scan in result.scans for e in scan.events}
    assert set(events) == {("default", image), ("team_b", image)}
    # One change seen through two tokens of one useapi.net user: one id, so receivers keep one.
    assert events["default", image].id == events["team_b", image].id
    default, team_b = Keys("src"), Keys("src", "team_b")
    assert default.tracked(A) != team_b.tracked(A)
    assert fake_redis.hexists(default.tracked(A), image) and fake_redis.hexists(team_b.tracked(A), image)
    assert fake_redis.exists(team_b.meta(B)) and not fake_redis.exists(default.meta(B))


@pytest.mark.parametrize("status", [401, 429])
def test_a_refused_token_pauses_only_its_own_accounts(
    make_settings: Callable[..., Settings], simulator: Callable[..., Simulator], fake_redis: fakeredis.FakeRedis,
    status: int,
) -> None:
    sim = simulator()
    poller = _poller(make_settings, sim, fake_redis)
    try:
        poller.run_cycle()
        if status == 401:
            sim.state.tokens.discard(TOKEN_B)  # team_b's token revoked
        else:
            sim.state.throttled.add(TOKEN_B)  # team_b's user over its rate limit
        errors = poller.run_cycle(force=True).errors
        polled: list[str] = []
        deadline = time.monotonic() + 5
        while polled.count(A) < 3:
            assert time.monotonic() < deadline, "the default source's account was not polled again"
            cycle = poller.run_cycle()
            polled += [scan.account for scan in cycle.scans]
            assert not [unit for unit in cycle.errors if unit != A]
            time.sleep(0.02)
    finally:
        poller.close()
    assert set(errors) == {"team_b/a@x.com", "team_b/b@x.com"}
    assert str(status) in errors["team_b/b@x.com"] and TOKEN_B not in errors["team_b/b@x.com"]
    assert polled == [A] * 3  # team_b's accounts wait out their pause; the default source goes on


def test_sources_setting_is_checked_without_echoing_a_token() -> None:
    good = '[{"name": "team_b", "token": "user:5678-abcdef", "accounts": ["a@x.com"]}]'
    settings = load_settings(_env_file=None, sources=good)
    assert [s.name for s in settings.upstream_sources()] == ["team_b"]  # no single token: only the list
    assert settings.require_token()
    assert "abcdef" not in repr(settings)
    for bad, says in [
        ('[{"name": "default", "token": "t0ken1"}]', "single-token"),
        ('[{"name": "x", "token": "t0ken1"}, {"name": "x", "token": "t0ken2"}]', "same name"),
        ('[{"name": "x y", "token": "t0ken1"}]', "name must be"),
        ('[{"name": "x", "token": "t0ken 1secret"}]', "spaces"),
        ('[{"name": "x", "token": "t0ken1secret", "base_url": "http://example.com/v2"}]', "https"),
        ('{"name": "x"}', "JSON list"),
    ]:
        with pytest.raises(ConfigError, match=says) as caught:
            load_settings(_env_file=None, sources=bad)
        assert "secret" not in str(caught.value)
    with pytest.raises(ConfigError, match="not configured"):
        load_settings(_env_file=None, sources=good, webhooks='[{"url": "https://h.example/x", "secret": '
                      '"whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "sources": ["team_c"]}]')
    with pytest.raises(ConfigError, match="USEAPI_TOKEN"):
        load_settings(_env_file=None).require_token()
