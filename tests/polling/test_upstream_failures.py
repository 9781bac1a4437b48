"""Answers the client used not to translate (issue #10, case 10) leave the poller's loop running."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import fakeredis
import httpx
import pytest

from notifier.polling.poller import Poller
from notifier.state.keys import Keys
from notifier.state.tracker import Tracker
from notifier.upstream.client import UpstreamClient


def corrupt_gzip(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=b"\x1f\x8b not really gzip", headers={"Content-Encoding": "gzip"})


def deeply_nested(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=b"[" * 100_000)


def broken_mid_body(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadError("connection reset")


@pytest.mark.parametrize("handler", [corrupt_gzip, deeply_nested, broken_mid_body])
def test_discovered_accounts_survive_answers_that_are_not_json(
    make_settings: Callable[..., Any], fake_redis: fakeredis.FakeRedis,
    handler: Callable[[httpx.Request], httpx.Response],
) -> None:
    settings = make_settings(accounts=[])  # discovered: GET /accounts on every refresh
    upstream = UpstreamClient("http://up.example/v2/pixverse", "tok", timeout_s=1,
                              transport=httpx.MockTransport(handler))
    tracker = Tracker(fake_redis, Keys("t"), enqueue=lambda pipe, evs: None, max_age_s=86400, known_ttl_s=86400)
    poller = Poller(settings, upstream, tracker, fake_redis, clock=lambda: 1_000_000.0)
    try:
        result = poller.run_cycle(force=True)  # raised DecodingError / RecursionError before
        assert result.scans == []
    finally:
        poller.close()
