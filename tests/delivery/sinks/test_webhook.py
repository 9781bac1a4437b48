import json

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from notifier.delivery.sinks import webhook
from notifier.errors import DeliveryError
from notifier.runtime.sink_config import WebhookConfig
from notifier.state.events import build_event
from notifier.upstream.statuses import resolve
from tests.conftest import SECRET

IMAGE = {"image_id": "user:1-pixverse:a@x.com-image:1", "image_status": 1, "prompt": "café ☕ <!channel>"}
CONFIG = WebhookConfig(url="https://hooks.example/t0ken", secret=SECRET)


def event():
    return build_event(image=IMAGE, account="a@x.com", status=resolve(IMAGE), previous=None, now=1_700_000_000)


def test_request_is_signed_per_standard_webhooks() -> None:
    import time

    now = time.time()
    request = webhook.build_request(event(), CONFIG, now)
    assert request.headers["webhook-id"] == event().id
    assert request.headers["webhook-timestamp"] == str(int(now))
    assert request.headers["content-type"] == "application/json"
    payload = Webhook(SECRET).verify(request.body, request.headers)
    assert payload == json.loads(json.dumps(event().payload()))
    assert payload["data"]["image"]["prompt"] == "café ☕ <!channel>"


def test_a_tampered_body_or_other_secret_fails_verification() -> None:
    import time

    request = webhook.build_request(event(), CONFIG, time.time())
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(request.body.replace(b"COMPLETED", b"FAILED"), request.headers)
    other = "whsec_" + "b" * 44
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(request.body, request.headers)


def test_build_request_is_pure() -> None:
    assert webhook.build_request(event(), CONFIG, 1_700_000_000) == webhook.build_request(event(), CONFIG,
                                                                                          1_700_000_000)


def test_send_posts_the_bytes_and_does_not_follow_redirects() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(301, headers={"location": "https://hooks.example/elsewhere"})

    request = webhook.build_request(event(), CONFIG, 1_700_000_000)
    with pytest.raises(DeliveryError, match="redirects are not followed") as caught:
        webhook.send(httpx.Client(transport=httpx.MockTransport(handler)), request, 5)
    assert not caught.value.retryable
    assert len(seen) == 1
    assert seen[0].content == request.body
    assert seen[0].method == "POST"
    assert "t0ken" not in str(caught.value)


def test_timeouts_are_retryable_and_name_no_url() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out reading https://hooks.example/t0ken")

    request = webhook.build_request(event(), CONFIG, 1_700_000_000)
    with pytest.raises(DeliveryError) as caught:
        webhook.send(httpx.Client(transport=httpx.MockTransport(handler)), request, 5)
    assert caught.value.retryable
    assert "t0ken" not in str(caught.value)


def test_text_that_cannot_be_encoded_is_sent_as_valid_utf8_and_signed() -> None:
    # Issue #10, case 7: a client cut an emoji in half ("\ud83d"); before, build_request raised.
    image = {**IMAGE, "prompt": "cat \ud83d", "tags": {"\udcff": [float("nan")]}}
    ev = build_event(image=image, account="a@x.com", status=resolve(image), previous=None, now=1_700_000_000)
    import time

    request = webhook.build_request(ev, CONFIG, time.time())
    request.body.decode("utf-8")  # strict

    def not_json(constant: str) -> None:
        raise AssertionError(f"{constant} is not JSON")

    payload = json.loads(request.body, parse_constant=not_json)
    assert payload["data"]["image"]["prompt"] == "cat \ufffd"
    assert payload["data"]["image"]["tags"] == {"\ufffd": [None]}
    assert Webhook(SECRET).verify(request.body, request.headers) == payload


def test_while_rotating_every_request_is_signed_with_each_secret() -> None:
    import time

    from notifier.runtime.sink_config import new_secret

    old, new, stranger = SECRET, new_secret(), new_secret()
    for written in (f"{old} {new}", f"{old},{new}", f" {old} ,\n{new} "):
        config = WebhookConfig(url="https://hooks.example/t0ken", secret=written)
        request = webhook.build_request(event(), config, time.time())
        assert len(request.headers["webhook-signature"].split(" ")) == 2
        # A receiver still on the old secret and one already on the new one both accept it.
        assert Webhook(old).verify(request.body, request.headers)["type"] == "image.completed"
        assert Webhook(new).verify(request.body, request.headers)["type"] == "image.completed"
        with pytest.raises(WebhookVerificationError):
            Webhook(stranger).verify(request.body, request.headers)


def test_a_bad_secret_among_several_is_named_by_position_not_shown() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as caught:
        WebhookConfig(url="https://hooks.example/t0ken", secret=f"{SECRET} whsec_bm90LWVub3VnaA==")
    [error] = caught.value.errors(include_input=False, include_url=False)  # what load_settings reports
    assert "secret 2 of 2" in error["msg"] and "bm90LWVub3VnaA" not in str(error)
