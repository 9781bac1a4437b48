import random

import pytest

from notifier.backoff import MAX_RETRY_AFTER_S, backoff_s, exponential_s, jittered_s, parse_retry_after


def test_exponential_grows_by_three_and_caps() -> None:
    assert [exponential_s(n, base_s=2, max_s=100) for n in range(1, 7)] == [2, 6, 18, 54, 100, 100]


def test_jitter_stays_within_twenty_percent_and_varies() -> None:
    rng = random.Random(1)
    values = [jittered_s(10, rng) for _ in range(200)]
    assert all(8 <= v <= 12 for v in values)
    assert len({round(v, 3) for v in values}) > 100


def test_retry_after_is_a_floor() -> None:
    rng = random.Random(2)
    assert backoff_s(1, base_s=2, max_s=60, rng=rng, retry_after_s=30) == 30
    assert backoff_s(1, base_s=2, max_s=60, rng=rng, retry_after_s=0.5) < 3
    # A Retry-After above max_s is honoured (up to its own cap): the server knows best.
    assert backoff_s(1, base_s=2, max_s=60, rng=rng, retry_after_s=600) == 600
    assert backoff_s(1, base_s=2, max_s=60, rng=rng, retry_after_s=10**9) == MAX_RETRY_AFTER_S


@pytest.mark.parametrize(
    ("header", "expected"),
    [("12", 12.0), (" 3.5 ", 3.5), ("-4", 0.0), ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0), ("soon", None),
     ("", None), (None, None), ("nan", None)],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    now = 1445412480.0  # 07:28:00 on that date
    assert parse_retry_after(header, now) == expected
