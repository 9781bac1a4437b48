from collections.abc import Callable

import httpx
import pytest

from notifier.errors import (
    UpstreamAuthError,
    UpstreamError,
    UpstreamNotFound,
    UpstreamProtocolError,
    UpstreamRejected,
    UpstreamUnavailable,
)
from notifier.upstream.client import UpstreamClient

BASE = "https://api.example/v2/pixverse"


def client(handler: Callable[[httpx.Request], httpx.Response]) -> UpstreamClient:
    return UpstreamClient(BASE, "user:1-tok", timeout_s=1, transport=httpx.MockTransport(handler))


def test_list_sends_auth_and_params_and_keeps_unknown_fields() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": [{"image_id": "a", "new_field": [1]}, {"no_id": 1}, "junk"],
                                         "next_offset": 50, "total": 3})

    page = client(handler).list_images("me+x@y.com", limit=50, offset=100)
    request = seen[0]
    assert request.url.path == "/v2/pixverse/images/"
    assert dict(request.url.params) == {"email": "me+x@y.com", "limit": "50", "offset": "100"}
    assert request.headers["authorization"] == "Bearer user:1-tok"
    assert page.images == [{"image_id": "a", "new_field": [1]}]
    assert (page.total, page.skipped) == (3, 2)


def test_get_image_percent_encodes_the_id() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"image_id": "user:1-pixverse:a@b.c-image:9", "image_status": 1})

    image = client(handler).get_image("user:1-pixverse:a@b.c-image:9")
    assert seen[0].url.raw_path == b"/v2/pixverse/images/user%3A1-pixverse%3Aa%40b.c-image%3A9"
    assert image["image_status"] == 1


def test_accounts_listed_or_none_on_404() -> None:
    listed = client(lambda r: httpx.Response(200, json={"a@x.com": {}, "b@x.com": {"maxJobs": 1}}))
    assert listed.list_accounts() == ["a@x.com", "b@x.com"]
    missing = client(lambda r: httpx.Response(404, json={"error": "Configuration not found", "code": 404}))
    assert missing.list_accounts() is None


@pytest.mark.parametrize(
    ("response", "error", "text"),
    [
        (httpx.Response(401, json={"error": "Unauthorized", "code": 401}), UpstreamAuthError, "rejected the API token"),
        (httpx.Response(400, json={"error": "Parameter email is required"}), UpstreamRejected, "email is required"),
        (httpx.Response(402, json={"error": "Subscription expired"}), UpstreamRejected, "Subscription expired"),
        (httpx.Response(412, json={"error": "Insufficient credits"}), UpstreamRejected, "Insufficient credits"),
        (httpx.Response(596, json={"error": "Account in error state"}), UpstreamRejected, "error state"),
        (httpx.Response(404, json={"error": "deleted"}), UpstreamNotFound, "404"),
        (httpx.Response(500, text="<html>oops</html>"), UpstreamUnavailable, "oops"),
        (httpx.Response(503), UpstreamUnavailable, "503"),
        (httpx.Response(200, text="{not json"), UpstreamProtocolError, "not valid JSON"),
        (httpx.Response(200, json=[1, 2]), UpstreamProtocolError, "expected a JSON object, got list"),
        (httpx.Response(200, json={"data": "nope"}), UpstreamProtocolError, "'data' to be a list, got str"),
        (httpx.Response(200, json={"total": 3}), UpstreamProtocolError, "'data' to be a list, got nothing"),
    ],
)
def test_errors_are_typed_and_say_what_happened(response: httpx.Response, error: type, text: str) -> None:
    with pytest.raises(error, match=text) as caught:
        client(lambda r: response).list_images("a@x.com", limit=10, offset=0)
    assert "user:1-tok" not in str(caught.value)
    assert "a@x.com" in str(caught.value)


def test_429_carries_retry_after() -> None:
    response = httpx.Response(429, json={"error": "Too many requests"}, headers={"Retry-After": "17"})
    with pytest.raises(UpstreamUnavailable) as caught:
        client(lambda r: response).list_images(None, limit=10, offset=0)
    assert caught.value.retry_after_s == 17
    assert caught.value.retryable


@pytest.mark.parametrize(
    ("exc", "text"), [(httpx.ReadTimeout("slow"), "timed out"), (httpx.ConnectError("refused"), "could not reach")]
)
def test_transport_failures_are_retryable(exc: Exception, text: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(UpstreamUnavailable, match=text):
        client(handler).list_images(None, limit=10, offset=0)


def test_redirects_are_not_followed() -> None:
    response = httpx.Response(302, headers={"location": "https://evil.example/"})
    with pytest.raises(UpstreamRejected, match="302"):
        client(lambda r: response).list_accounts()


def requests_counted(endpoint: str, outcome: str) -> float:
    from prometheus_client import REGISTRY

    from notifier.ops.metrics import metrics

    metrics()
    value = REGISTRY.get_sample_value("notifier_upstream_requests_total", {"endpoint": endpoint, "outcome": outcome})
    return value or 0.0


def _corrupt_gzip(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=b"this is not gzip", headers={"Content-Encoding": "gzip"})


def _transport_error(request: httpx.Request) -> httpx.Response:
    raise httpx.RemoteProtocolError("peer closed the connection mid-body")


def _stream_error(request: httpx.Request) -> httpx.Response:
    raise httpx.StreamConsumed()


@pytest.mark.parametrize(
    ("handler", "error", "outcome", "text"),
    [
        (_corrupt_gzip, UpstreamProtocolError, "bad_body", "could not be decoded"),
        (lambda r: httpx.Response(200, content=b"[" * 100_000), UpstreamProtocolError, "bad_body", "nested too deep"),
        (lambda r: httpx.Response(200, content=b'{"data": ["\xff\xfe\x80"]}'), UpstreamProtocolError, "bad_body",
         "not valid JSON"),
        (lambda r: httpx.Response(200, content=b"{}" + b"\xc3"), UpstreamProtocolError, "bad_body", "not valid JSON"),
        (lambda r: httpx.Response(503, content=b"[" * 100_000), UpstreamUnavailable, "unavailable", "503"),
        (lambda r: httpx.Response(200, json=["data"]), UpstreamProtocolError, "bad_body", "expected a JSON object"),
        (_transport_error, UpstreamUnavailable, "unavailable", "RemoteProtocolError"),
        (_stream_error, UpstreamError, "error", "StreamConsumed"),
    ],
)
def test_every_failure_is_an_upstream_error_counted_by_outcome(
    handler: Callable[[httpx.Request], httpx.Response], error: type, outcome: str, text: str
) -> None:
    # Each endpoint: with accounts discovered, an escaping list_accounts error killed the poller's loop.
    calls = [
        ("images", lambda c: c.list_images("a@x.com", limit=10, offset=0)),
        ("image", lambda c: c.get_image("user:1-pixverse:a@x.com-image:9")),
        ("accounts", lambda c: c.list_accounts()),
    ]
    for endpoint, call in calls:
        before = requests_counted(endpoint, outcome)
        with pytest.raises(error, match=text) as caught:
            call(client(handler))
        assert "user:1-tok" not in str(caught.value)
        assert requests_counted(endpoint, outcome) == before + 1, endpoint


def test_successful_requests_are_counted_ok() -> None:
    before = requests_counted("images", "ok")
    client(lambda r: httpx.Response(200, json={"data": []})).list_images(None, limit=1, offset=0)
    assert requests_counted("images", "ok") == before + 1


def test_broken_text_from_the_upstream_is_cleaned_where_it_enters() -> None:
    # A client cut an emoji in half: the JSON escape "\ud83d" decodes to a lone surrogate, which no
    # UTF-8 encoder (Redis, the webhook signature, every sink) accepts. NaN is not JSON either.
    body = (b'{"data": [{"image_id": "a", "prompt": "cat \\ud83d", "seed": NaN,'
            b' "tags": {"\\udc80k": ["\\ud83d\\ude00"]}}], "total": 1}')
    page = client(lambda r: httpx.Response(200, content=body)).list_images(None, limit=1, offset=0)
    assert page.images == [{"image_id": "a", "prompt": "cat \ufffd", "seed": None, "tags": {"\ufffdk": ["😀"]}}]
    error = client(lambda r: httpx.Response(400, content=b'{"error": "bad \\ud83d"}'))
    with pytest.raises(UpstreamRejected) as caught:
        error.list_accounts()
    str(caught.value).encode("utf-8")  # the message goes to logs and Redis


def test_an_image_id_no_url_can_carry_is_refused_without_a_request() -> None:
    calls: list[httpx.Request] = []
    with pytest.raises(UpstreamRejected, match="not valid text"):
        client(lambda r: calls.append(r) or httpx.Response(200, json={})).get_image("user:1-image:\ud83d")
    assert calls == []
