from collections.abc import Callable

import httpx
import pytest

from notifier.errors import (
    UpstreamAuthError,
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
