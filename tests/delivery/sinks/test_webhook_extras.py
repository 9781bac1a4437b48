"""A webhook's own headers and payload template: the signature still covers what is sent, and wins."""

from __future__ import annotations

import json
import logging
import time

import pytest
from standardwebhooks.webhooks import Webhook

from notifier.delivery.sinks import webhook
from notifier.errors import ConfigError
from notifier.ops.logs import setup_logging
from notifier.runtime.settings import load_settings
from notifier.runtime.sink_config import WebhookConfig
from tests.conftest import SECRET
from tests.delivery.sinks.hostile import event

KEY = "k3y-0f-the-receiver"


def test_headers_are_sent_and_the_signature_still_verifies() -> None:
    config = WebhookConfig(url="https://h.example/x", secret=SECRET,
                           headers={"X-Api-Key": KEY, "User-Agent": "team-bot/1"})
    request = webhook.build_request(event(1), config, time.time())
    assert request.headers["X-Api-Key"] == KEY and request.headers["User-Agent"] == "team-bot/1"
    assert "user-agent" not in request.headers  # replaced, not sent twice
    assert Webhook(SECRET).verify(request.body, {k.lower(): v for k, v in request.headers.items()})


@pytest.mark.parametrize("name", ["webhook-signature", "Webhook-Id", "WEBHOOK-TIMESTAMP", "Content-Type", "Host"])
def test_a_header_may_not_replace_the_signature_or_the_framing(name: str) -> None:
    with pytest.raises(ValueError, match="set by the notifier"):
        WebhookConfig(url="https://h.example/x", secret=SECRET, headers={name: "v1,forged"})


def test_bad_header_values_are_refused_without_echoing_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_WEBHOOKS", json.dumps([{"url": "https://h.example/x", "secret": SECRET,
                                                         "headers": {"X-Key": "s3cret\r\nX-Evil: 1"}}]))
    with pytest.raises(ConfigError, match="printable ASCII") as caught:
        load_settings(_env_file=None)
    assert "s3cret" not in str(caught.value)


def test_header_values_are_masked_in_logs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                          ) -> None:
    monkeypatch.setenv("NOTIFIER_WEBHOOK_URL", "https://h.example/x")
    monkeypatch.setenv("NOTIFIER_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("NOTIFIER_WEBHOOK_HEADERS", json.dumps({"X-Api-Key": KEY}))
    settings = load_settings(_env_file=None)
    assert settings.all_webhooks()[0].header_values() == {"X-Api-Key": KEY}
    setup_logging(settings)
    logging.getLogger("some.library").warning("sent with X-Api-Key: %s", KEY)
    err = capsys.readouterr().err
    assert KEY not in err and "[redacted]" in err
    assert KEY not in repr(settings)


def test_payload_template_is_the_signed_body() -> None:
    template = ('{"text": {{ title ~ ": " ~ prompt }}, "image": {{ image_id }}, "final": {{ final }}, '
                '"at": {{ timestamp }}}')
    config = WebhookConfig(url="https://h.example/x", secret=SECRET, payload_template=template)
    request = webhook.build_request(event(1, prompt='say "hi" \ud83d'), config, time.time())
    body = Webhook(SECRET).verify(request.body, request.headers)
    assert body["text"] == 'Image completed: say "hi" \ufffd' and body["final"] is True
    assert request.body.decode("utf-8")  # valid UTF-8 whatever the prompt held


def test_a_payload_template_that_is_not_json_stops_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFIER_WEBHOOKS", json.dumps([{"url": "https://h.example/x", "secret": SECRET,
                                                         "payload_template": "text: {{ title }}"}]))
    with pytest.raises(ConfigError, match=r"NOTIFIER_WEBHOOKS\[0\]\[payload_template\]: does not render valid JSON"):
        load_settings(_env_file=None)
