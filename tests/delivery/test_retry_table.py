"""The one table of HTTP answers, checked through every sink's send()."""

import httpx
import pytest

from notifier.delivery.retry_table import Outcome, classify
from notifier.delivery.sinks import discord, slack, webhook
from notifier.delivery.sinks.base import SinkRequest
from notifier.errors import DeliveryError

TABLE = {
    200: Outcome.SUCCESS, 201: Outcome.SUCCESS, 204: Outcome.SUCCESS,
    301: Outcome.PERMANENT, 302: Outcome.PERMANENT, 307: Outcome.PERMANENT,
    400: Outcome.PERMANENT, 401: Outcome.PERMANENT, 403: Outcome.PERMANENT, 404: Outcome.PERMANENT,
    410: Outcome.PERMANENT, 413: Outcome.PERMANENT, 422: Outcome.PERMANENT,
    408: Outcome.RETRY, 409: Outcome.RETRY, 425: Outcome.RETRY, 429: Outcome.RETRY,
    500: Outcome.RETRY, 502: Outcome.RETRY, 503: Outcome.RETRY, 504: Outcome.RETRY,
}
SINKS = {"webhook": webhook.send, "slack": slack.send, "discord": discord.send}


@pytest.mark.parametrize(("code", "outcome"), TABLE.items())
def test_table(code: int, outcome: Outcome) -> None:
    assert classify(code) is outcome


@pytest.mark.parametrize("sink", SINKS)
@pytest.mark.parametrize(("code", "outcome"), TABLE.items())
def test_every_sink_follows_the_table(sink: str, code: int, outcome: Outcome) -> None:
    client = httpx.Client(transport=httpx.MockTransport(
        lambda request: httpx.Response(code, headers={"location": "https://elsewhere/"}, text="nope")))
    request = SinkRequest(url="https://hooks.example/x", body=b"{}")
    if outcome is Outcome.SUCCESS:
        assert SINKS[sink](client, request, 5).status_code == code
        return
    with pytest.raises(DeliveryError) as caught:
        SINKS[sink](client, request, 5)
    assert caught.value.retryable is (outcome is Outcome.RETRY)
    assert caught.value.status_code == code
    assert "hooks.example" not in str(caught.value)
