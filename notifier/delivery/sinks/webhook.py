"""Standard Webhooks sink: the event as JSON, signed with the webhook's ``whsec_`` secret.

While a secret is rotated the webhook holds several: the request carries one ``v1,<signature>`` per
secret, space-separated in one ``webhook-signature`` header (as Standard Webhooks allows), so a
receiver verifies with the old secret or the new one and switches without a gap.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from standardwebhooks.webhooks import Webhook

from notifier.delivery.sinks.base import USER_AGENT, SinkRequest, SinkResponse, json_text, post, redact_url

if TYPE_CHECKING:
    import httpx

    from notifier.runtime.sink_config import WebhookConfig
    from notifier.state.events import Event

__all__ = ["build_request", "redact_url", "send"]


def build_request(event: Event, config: WebhookConfig, now: float) -> SinkRequest:
    body = json_text(event.payload())  # valid UTF-8 whatever the image holds: the signature covers these bytes
    signed_at = datetime.fromtimestamp(int(now), tz=UTC)
    signature = " ".join(Webhook(secret).sign(event.id, signed_at, body) for secret in config.secrets())
    return SinkRequest(
        url=config.url,
        body=body.encode(),
        headers={
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": event.id,
            "webhook-timestamp": str(int(now)),
            "webhook-signature": signature,
        },
    )


def send(client: httpx.Client, request: SinkRequest, timeout_s: float) -> SinkResponse:
    return post(client, request, timeout_s, what="webhook")
