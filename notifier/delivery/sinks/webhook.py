"""Standard Webhooks sink: the event as JSON, signed with the webhook's ``whsec_`` secret.

While a secret is rotated the webhook holds several: the request carries one ``v1,<signature>`` per
secret, space-separated in one ``webhook-signature`` header (as Standard Webhooks allows), so a
receiver verifies with the old secret or the new one and switches without a gap.

A webhook may add headers of its own (a receiver's API key: secrets, masked in logs; they never replace
the signature's headers, which are written last) and shape its body with a payload template, which must
render JSON (:mod:`~notifier.delivery.sinks.templates`, checked at start-up): the signature covers the
body as sent.
"""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from standardwebhooks.webhooks import Webhook

from notifier.delivery.sinks.base import USER_AGENT, SinkRequest, SinkResponse, json_text, post, redact_url
from notifier.delivery.sinks.templates import render
from notifier.errors import DeliveryError

if TYPE_CHECKING:
    import httpx

    from notifier.runtime.sink_config import WebhookConfig
    from notifier.state.events import Event

__all__ = ["build_request", "redact_url", "send"]


@functools.lru_cache(maxsize=64)
def _signer(secret: str) -> Webhook:
    # Decoding the secret is a good part of signing: a burst of thousands signs with the same one.
    return Webhook(secret)


def payload_text(event: Event, config: WebhookConfig) -> str:
    """The body: the event, or what the payload template renders (re-encoded, so it is strict, valid UTF-8 JSON)."""
    if config.payload_template is None:
        return json_text(event.payload())  # valid UTF-8 whatever the image holds: the signature covers these bytes
    rendered = render("json", config.payload_template, event)
    try:
        return json_text(json.loads(rendered))
    except ValueError as exc:  # checked at start-up; real data could still break it (a |safe value, say)
        raise DeliveryError(f"webhook: the payload template rendered no JSON for this event ({exc})",
                            retryable=False) from None


def build_request(event: Event, config: WebhookConfig, now: float) -> SinkRequest:
    body = payload_text(event, config)
    signed_at = datetime.fromtimestamp(int(now), tz=UTC)
    signature = " ".join(_signer(secret).sign(event.id, signed_at, body) for secret in config.secrets())
    headers = {"content-type": "application/json", "user-agent": USER_AGENT}
    # Configured headers are checked not to name these; header names are case-insensitive, so they are
    # dropped here too by a case-blind comparison before the notifier's own are written.
    own = {"webhook-id", "webhook-timestamp", "webhook-signature", "content-type"}
    for name, value in config.header_values().items():
        if name.lower() == "user-agent":
            del headers["user-agent"]
        if name.lower() not in own:
            headers[name] = value
    headers.update({"webhook-id": event.id, "webhook-timestamp": str(int(now)), "webhook-signature": signature})
    return SinkRequest(url=config.url, body=body.encode(), headers=headers)


def send(client: httpx.Client, request: SinkRequest, timeout_s: float) -> SinkResponse:
    return post(client, request, timeout_s, what="webhook")
