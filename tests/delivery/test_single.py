import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from rq import Retry

from notifier.delivery.policy import next_try
from notifier.delivery.single import deliver
from notifier.errors import DeliveryError
from notifier.runtime.settings import Settings
from notifier.state.events import build_event
from notifier.upstream.statuses import resolve
from tests.conftest import SECRET
from tests.support.delivery import installed_context

IMAGE = {"image_id": "user:1-pixverse:a@x.com-image:1", "image_status": 1}


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings(webhook_url="https://hooks.example/h", webhook_secret=SECRET, delivery_max_attempts=4,
                         delivery_backoff_base_s=2, delivery_backoff_max_s=100)


@pytest.fixture
def answers(settings: Settings) -> Iterator[list[httpx.Response]]:
    queue: list[httpx.Response] = []
    with installed_context(settings, answer=lambda request: queue.pop(0)):
        yield queue


def event() -> Any:
    return build_event(image=IMAGE, account="a@x.com", status=resolve(IMAGE), previous=None, now=0)


def test_next_try_schedule(settings: Settings) -> None:
    rng = random.Random(0)
    retryable = DeliveryError("503", retryable=True)
    delays = [next_try(retryable, attempt, settings, rng) for attempt in (1, 2, 3)]
    assert all(0.8 * e <= d <= 1.2 * e for d, e in zip(delays, [2, 6, 18], strict=True))
    assert next_try(retryable, 4, settings, rng) is None  # the last allowed try
    assert next_try(DeliveryError("400", retryable=False), 1, settings, rng) is None
    assert next_try(DeliveryError("429", retryable=True, retry_after_s=50), 1, settings, rng) == 50


def test_success_returns_nothing(answers: list[httpx.Response]) -> None:
    answers.append(httpx.Response(204))
    assert deliver("webhook", event().id, event().payload()) is None


def test_retryable_failure_reschedules_with_backoff(answers: list[httpx.Response]) -> None:
    answers.append(httpx.Response(503, headers={"Retry-After": "40"}))
    result = deliver("webhook", event().id, event().payload())
    assert isinstance(result, Retry)
    assert result.intervals == [40]


def test_permanent_failure_raises_with_reason(answers: list[httpx.Response]) -> None:
    answers.append(httpx.Response(410, text="gone"))
    with pytest.raises(DeliveryError, match="410"):
        deliver("webhook", event().id, event().payload())


def test_unknown_sink_is_permanent(answers: list[httpx.Response]) -> None:
    with pytest.raises(DeliveryError, match="not configured"):
        deliver("removed_sink", event().id, event().payload())


def test_a_payload_with_broken_text_is_delivered(answers: list[httpx.Response]) -> None:
    # What `notifier replay` runs for a delivery that failed on a lone surrogate before issue #10.
    from rq.serializers import JSONSerializer

    answers.append(httpx.Response(204))
    image = {**IMAGE, "prompt": "cat \ud83d"}
    ev = build_event(image=image, account="a@x.com", status=resolve(image), previous=None, now=0)
    _, event_id, payload = JSONSerializer.loads(JSONSerializer.dumps(("webhook", ev.id, ev.payload())))
    assert payload["data"]["image"]["prompt"] == "cat \ud83d"  # RQ's JSON keeps it as it was
    assert deliver("webhook", event_id, payload) is None
