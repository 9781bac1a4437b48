"""schemathesis runs every operation of the API's OpenAPI document against the real app and a real Redis,
with generated input that breaks the schema and input that follows it: no answer is a 500, and every 4xx
says what was wrong. Few examples per operation (deterministic) keep it inside CI's budget."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from notifier.delivery.context import install
from notifier.ops.api import create_app
from notifier.runtime.settings import Settings
from tests.conftest import SECRET
from tests.support.receiver import Receiver
from tests.support.world import World, make_event, world_settings

pytestmark = pytest.mark.integration
WRITE = "write-token-0123456789"
EXAMPLES_PER_OPERATION = 12


@pytest.fixture
def api_schema(make_settings: Callable[..., Settings], receiver: Callable[..., Receiver], redis_url: str,
               real_redis: redis.Redis) -> Iterator[Any]:
    rec = receiver(SECRET)
    world = World(world_settings(make_settings, rec, redis_url, api_token=f"write:{WRITE}"), real_redis, rec)
    rec.script = lambda webhook_id, before: (500, {}, 0.0)
    world.enqueue([make_event(now=time.time()) for _ in range(3)])  # some events, attempts and sinks to read
    world.work()
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", create_app(world.settings, real_redis))
    yield schema
    install(None)


def said_what_was_wrong(response: Any) -> str | None:
    """A 4xx must carry a JSON ``detail``: a sentence, or pydantic's list of fields with a message each."""
    if not 400 <= response.status_code < 500:
        return None
    try:
        detail = response.json().get("detail")
    except ValueError:
        return f"{response.status_code} without a JSON body"
    if isinstance(detail, str) and detail.strip():
        return None
    if isinstance(detail, list) and detail and all(isinstance(d, dict) and d.get("msg") and d.get("loc")
                                                   for d in detail):
        return None
    return f"{response.status_code} without a clear detail: {response.text[:200]}"


def test_every_operation_survives_bad_input(api_schema: Any) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 7
    tried: dict[str, int] = {}
    for operation in operations:
        for mode in (GenerationMode.NEGATIVE, GenerationMode.POSITIVE):

            @given(operation.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def call(case: Any) -> None:
                response = case.call(headers={"Authorization": f"Bearer {WRITE}"})
                where = f"{case.method} {case.formatted_path} {case.query or ''} {case.body!r:.200}"
                assert response.status_code < 500, f"{where}: {response.status_code} {response.text}"
                problem = said_what_was_wrong(response)
                assert problem is None, f"{where}: {problem}"
                tried[case.operation.label] = tried.get(case.operation.label, 0) + 1

            call()
    assert len(tried) == len(operations)
