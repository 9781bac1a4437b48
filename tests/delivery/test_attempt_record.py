"""What one attempt's record says (pure): outcome, error class, redaction, item and medium of any event."""

from __future__ import annotations

from notifier.delivery.attempt_record import build_attempt, error_class, item_of, number_attempts
from notifier.errors import DeliveryError
from notifier.runtime.redact import Redactor

PAYLOAD = {"type": "image.completed", "timestamp": "2026-03-09T12:00:00.000Z",
           "data": {"image_id": "user:1-pixverse:a@x.com-image:7", "email": "a@x.com"}}


def test_a_delivered_try_has_its_status_and_latency_and_no_next_try() -> None:
    attempt = build_attempt(event_id="evt_1", payload=PAYLOAD, sink="hook", now=100.0, status=204, latency_s=0.0123)
    assert (attempt.outcome, attempt.status, attempt.latency_ms, attempt.next_try_at) == ("delivered", 204, 12.3, None)
    assert (attempt.item_id, attempt.medium, attempt.account) == ("user:1-pixverse:a@x.com-image:7", "image", "a@x.com")
    assert attempt.error is None and attempt.error_class is None


def test_a_failed_try_is_retrying_when_another_is_scheduled_else_failed() -> None:
    error = DeliveryError("webhook: answered 503", retryable=True, status_code=503)
    retrying = build_attempt(event_id="e", payload=PAYLOAD, sink="s", now=100.0, error=error, next_try_s=6.0)
    assert (retrying.outcome, retrying.status, retrying.next_try_at, retrying.error_class) == \
        ("retrying", 503, 106.0, "server_error")
    final = build_attempt(event_id="e", payload=PAYLOAD, sink="s", now=100.0, error=error)
    assert (final.outcome, final.next_try_at) == ("failed", None)


def test_the_error_text_is_redacted_and_one_line() -> None:
    secret = "https://hooks.example/T000/B000/very-secret-path"
    error = DeliveryError(f"slack: could not reach {secret}\nsecond line", retryable=False)
    attempt = build_attempt(event_id="e", payload=PAYLOAD, sink="s", now=1.0, error=error,
                            redact=Redactor([secret]).one_line)
    assert attempt.error is not None and secret not in attempt.error and "\n" not in attempt.error


def test_error_classes() -> None:
    assert error_class(DeliveryError("x: timed out after 3 s", retryable=True)) == "timeout"
    assert error_class(DeliveryError("x: could not connect (ConnectError)", retryable=True)) == "connection"
    assert error_class(DeliveryError("x: egress denied", retryable=False)) == "refused_locally"
    assert error_class(DeliveryError("429", retryable=True, status_code=429)) == "rate_limited"
    assert error_class(DeliveryError("301", retryable=False, status_code=301)) == "redirect"
    assert error_class(DeliveryError("404", retryable=False, status_code=404)) == "client_error"
    assert error_class(None) is None


def test_videos_and_payloads_with_missing_fields_are_recorded_too() -> None:
    assert item_of({"type": "video.completed", "data": {"video_id": "v:9"}}) == ("v:9", "video")
    assert item_of({"type": "image.deleted", "data": None}) == (None, "image")
    assert item_of({}) == (None, "unknown")
    odd = build_attempt(event_id="e", payload={"type": "video.failed", "data": {"video_id": "v\udcff", "email": None}},
                        sink="s", now=1.0, status=200)
    assert odd.medium == "video" and odd.account is None


def test_attempts_are_numbered_per_sink_in_order() -> None:
    records = [{"sink": "a"}, {"sink": "b"}, {"sink": "a"}, {"sink": "a"}]
    assert [r["attempt"] for r in number_attempts(records)] == [1, 1, 2, 3]
