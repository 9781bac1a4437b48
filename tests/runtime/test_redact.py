"""What never gets written down: configured secrets, secret-shaped strings, control characters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import fakeredis
import httpx
from rq.serializers import JSONSerializer

from notifier.delivery.enqueue import JOB_FUNC, make_queue
from notifier.runtime.redact import MASK, Redactor, clean_text
from tests.conftest import SECRET, TOKEN


def test_configured_secrets_and_secret_shapes_are_masked(make_settings: Callable[..., Any]) -> None:
    settings = make_settings(webhook_url="https://hooks.example/T0KEN-path", webhook_secret=SECRET,
                             redis_url="rediss://notifier:redis-pa55@redis.example:6380/0")
    redactor = Redactor.from_settings(settings)
    text = (f"token {TOKEN}, url https://hooks.example/T0KEN-path, secret {SECRET}, raw {SECRET[6:]}, "
            "redis-pa55, unknown whsec_c29tZW9uZSBlbHNlJ3Mgc2VjcmV0, Authorization: Bearer abcdef123456, "
            "redis://user:an0ther-pw@host:6379")
    masked = redactor.redact(text)
    for secret in (TOKEN, "T0KEN-path", SECRET, SECRET[6:], "redis-pa55", "c29tZW9uZSBl", "abcdef123456",
                   "an0ther-pw"):
        assert secret not in masked, secret
    assert "redis://user:[redacted]@host:6379" in masked and "Bearer [redacted]" in masked
    # What is not a secret stays readable.
    image = "user:1234-pixverse:artist@example.com-image:11223344"
    assert redactor.redact(f"image {image} at https://media.pixverse.ai/a@b.png") == \
        f"image {image} at https://media.pixverse.ai/a@b.png"


def test_control_characters_become_visible_escapes() -> None:
    assert clean_text("a\nb\r\nc\td\x1b[31me\x00f\x7f\u2028g\u202eh") == \
        "a\\nb\\r\\nc\\td\\x1b[31me\\x00f\\x7f\\u2028g\\u202eh"
    assert clean_text("café ☕ 漢字 🎨") == "café ☕ 漢字 🎨"


def test_the_exception_text_rq_stores_is_redacted(make_settings: Callable[..., Any]) -> None:
    from workers.deliver import DeliveryJob, DeliveryWorker

    settings = make_settings(webhook_url="https://hooks.example/T0KEN-path", webhook_secret=SECRET)
    connection = fakeredis.FakeStrictRedis()
    queue = make_queue(connection, settings)
    job = queue.enqueue(JOB_FUNC, "webhook", "evt_1", {})
    worker = DeliveryWorker([queue], connection=connection, serializer=JSONSerializer, job_class=DeliveryJob)
    worker.redactor = Redactor.from_settings(settings)
    worker.handle_job_failure(job, queue, exc_string=f"Traceback …\nDeliveryError: webhook: answered 400: "
                                                     f"'bad https://hooks.example/T0KEN-path {TOKEN} {SECRET}'")
    stored = queue.fetch_job(job.id).latest_result().exc_string  # type: ignore[union-attr]
    assert "answered 400" in stored and MASK in stored
    assert "T0KEN-path" not in stored and TOKEN not in stored and SECRET not in stored


def test_last_error_is_stored_redacted_on_one_line(make_settings: Callable[..., Any]) -> None:
    import random

    from notifier.polling.poller import Poller
    from notifier.state.keys import Keys
    from notifier.state.tracker import Tracker
    from notifier.upstream.client import UpstreamClient

    settings = make_settings(accounts=["a@x.com"])
    store = fakeredis.FakeRedis()
    echo = f"bad token {TOKEN}\n2026-01-01 00:00:00,000 ERROR notifier: forged line\x1b[2J"
    upstream = UpstreamClient("http://127.0.0.1:9/v2", TOKEN, timeout_s=1, transport=httpx.MockTransport(
        lambda request: httpx.Response(400, json={"error": echo})))
    keys = Keys(settings.key_prefix)
    tracker = Tracker(store, keys, enqueue=lambda pipe, events: None, max_age_s=86400, known_ttl_s=86400)
    poller = Poller(settings, upstream, tracker, store, rng=random.Random(0))
    try:
        result = poller.run_cycle(force=True)
    finally:
        poller.close()
    stored = store.hget(keys.meta("a@x.com"), "last_error").decode()
    for text in (stored, result.errors["a@x.com"]):
        assert TOKEN not in text and "\n" not in text and "\x1b" not in text
        assert "bad token [redacted]\\n2026-01-01" in text


def test_status_shows_what_redis_holds_masked_and_on_one_line(make_settings: Callable[..., Any]) -> None:
    from rq.job import JobStatus
    from rq.registry import FailedJobRegistry
    from rq.results import Result

    from notifier.ops.report import collect_status
    from notifier.state.keys import Keys

    settings = make_settings(webhook_url="https://hooks.example/T0KEN-path", webhook_secret=SECRET)
    store = fakeredis.FakeRedis()
    keys = Keys(settings.key_prefix)
    # Written by an older version, or planted: status must still show no secret and no control character.
    store.zadd(keys.accounts(), {"a@x.com\x1b[2J": 1})
    store.hset(keys.meta("a@x.com\x1b[2J"), mapping={"last_error": f"upstream said {TOKEN}\nforged"})
    queue = make_queue(store, settings)
    job = queue.create_job(JOB_FUNC, args=("webhook", "evt_1", {}), status=JobStatus.FAILED,
                           description="image.completed x\n-> webhook")
    job.save()
    reason = "Traceback\nDeliveryError: webhook: answered 400: 'https://hooks.example/T0KEN-path\x1b]0;x'"
    FailedJobRegistry(queue=queue).add(job, ttl=60, exc_string=reason)
    Result.create_failure(job, 60, exc_string=reason)
    status = collect_status(settings, store)
    shown = repr(status.accounts) + repr(status.failures)
    assert TOKEN not in shown and "T0KEN-path" not in shown
    assert "\n" not in str(status.accounts) + str(status.failures) and "\x1b" not in str(status.failures)
    assert status.accounts[0]["last_error"] == "upstream said [redacted]\\nforged"
    assert status.failures[0]["what"] == "image.completed x\\n-> webhook"


def test_the_tokens_of_every_source_are_masked(make_settings: Callable[..., Any]) -> None:
    settings = make_settings(sources=[{"name": "team_b", "token": "user:99-teamBsecretTOKEN"}])
    redactor = Redactor.from_settings(settings)
    assert redactor.redact(f"a {TOKEN} b user:99-teamBsecretTOKEN c") == f"a {MASK} b {MASK} c"
