"""The API server: refuses to serve beyond loopback without a token, serves OpenAPI 3.1 with one; the API
token setting is validated without echoing it and masked like every secret."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import redis

from notifier.errors import ConfigError
from notifier.ops.api_server import ApiServer, check_exposure, is_loopback, start_api
from notifier.runtime.redact import Redactor
from notifier.runtime.settings import Settings, load_settings

TOKEN = "write:0123456789abcdef-token"


def test_no_token_means_loopback_only(make_settings: Callable[..., Settings]) -> None:
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert is_loopback(host)
        check_exposure(make_settings(http_host=host))
    for host in ("0.0.0.0", "192.0.2.10", "example.com", "::"):
        assert not is_loopback(host)
        with pytest.raises(ConfigError, match="NOTIFIER_API_TOKEN"):
            check_exposure(make_settings(http_host=host))
        check_exposure(make_settings(http_host=host, api_token=TOKEN))


def test_the_service_runs_on_without_the_api_it_refused(make_settings: Callable[..., Settings],
                                                         caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings(http_host="0.0.0.0", api_port=18081)
    assert start_api(settings, redis.Redis(host="127.0.0.1", port=9)) is None
    assert "not served on a non-loopback NOTIFIER_HTTP_HOST without NOTIFIER_API_TOKEN" in caplog.text


def test_served_on_loopback_with_openapi_3_1(make_settings: Callable[..., Settings], redis_url: str) -> None:
    settings = make_settings(redis_url=redis_url, api_token=TOKEN)
    server = ApiServer(settings, redis.Redis.from_url(redis_url), host="127.0.0.1", port=0).start()
    try:
        document = httpx.get(f"{server.url}api/openapi.json", timeout=5).json()
        assert document["openapi"].startswith("3.1")
        assert len([op for path in document["paths"].values() for op in path]) == 7
        assert httpx.get(f"{server.url}api/sinks", timeout=5).status_code == 401
        answer = httpx.get(f"{server.url}api/sinks", headers={"Authorization": f"Bearer {TOKEN[6:]}"}, timeout=5)
        assert answer.json() == {"sinks": []}
    finally:
        server.stop()


def test_api_tokens_are_checked_without_echo_and_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_API_TOKEN", "read:short-secret")
    with pytest.raises(ConfigError) as refused:
        load_settings(_env_file=None)
    assert "NOTIFIER_API_TOKEN" in str(refused.value) and "short-secret" not in str(refused.value)
    monkeypatch.setenv("NOTIFIER_API_TOKEN", "read:aaaaaaaaaaaaaaaa, write:bbbbbbbbbbbbbbbb")
    shown = Redactor.from_settings(load_settings(_env_file=None)).redact("a aaaaaaaaaaaaaaaa b bbbbbbbbbbbbbbbb")
    assert "aaaaaaaaaaaaaaaa" not in shown and "bbbbbbbbbbbbbbbb" not in shown
