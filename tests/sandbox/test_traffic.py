"""The simulator's traffic: new images on every account at the asked pace, each moving to an end."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import pytest

from notifier.sandbox.sim_state import SimState
from notifier.sandbox.traffic import COMPLETED, FAILED, MODERATED, QUEUED, Pace, Traffic, plan
from notifier.upstream.statuses import KNOWN_STATUSES

ACCOUNTS = ["artist1@example.com", "artist2@example.com"]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("text", "pace"), [("15", Pace(15, 15)), ("10-20", Pace(10, 20)), ("0", Pace(0, 0)),
                                            ("0.5-2", Pace(0.5, 2))])
def test_pace_reads_a_number_or_a_range(text: str, pace: Pace) -> None:
    assert Pace.parse(text) == pace


@pytest.mark.parametrize("text", ["", "fast", "20-10", "-5", "0-20", "1-2-3"])
def test_pace_refuses_what_it_cannot_mean(text: str) -> None:
    with pytest.raises(ValueError, match="expected"):
        Pace.parse(text)


def test_every_plan_moves_forward_to_a_final_status_within_twelve_seconds() -> None:
    rng = random.Random(1)
    ends: Counter[int] = Counter()
    for _ in range(2000):
        steps = plan(rng)
        times = [at for at, _ in steps]
        assert times == sorted(times) and times[0] > 0 and times[-1] <= 12
        assert all(not KNOWN_STATUSES[code][1] for _, code in steps[:-1])
        ends[steps[-1][1]] += 1
    assert set(ends) == {COMPLETED, MODERATED, FAILED}
    assert 0.6 < ends[COMPLETED] / 2000 < 0.8


def test_each_account_gets_an_image_every_interval_and_every_image_ends() -> None:
    clock = Clock()
    state = SimState("tok", clock=clock)
    for account in ACCOUNTS:
        state.add_account(account)
    lines: list[str] = []
    traffic = Traffic(state, ACCOUNTS, Pace(10, 20), rng=random.Random(7), say=lines.append)
    born: dict[str, list[float]] = defaultdict(list)
    seen: set[str] = set()
    start = clock.now
    while clock.now < start + 600:
        traffic.step()
        for account in ACCOUNTS:
            for noun in ("image", "video"):  # a new item is an image or, now and then, a video
                _, page = state.handle(f"/v2/pixverse/{noun}s/", {"email": [account], "limit": ["100"]},
                                       "Bearer tok")
                new = [item for item in page["data"] if item[f"{noun}_id"] not in seen]
                for item in sorted(new, key=lambda item: item["created_at"]):
                    seen.add(item[f"{noun}_id"])
                    born[account].append(clock.now)
                    assert item[f"{noun}_status"] == QUEUED
        clock.now += 0.25
    for account in ACCOUNTS:
        gaps = [b - a for a, b in zip(born[account], born[account][1:], strict=False)]
        assert born[account][0] - start <= 20, account
        assert all(9.75 <= gap <= 20.25 for gap in gaps), gaps
        assert 600 / 20 - 1 <= len(born[account]) <= 600 / 10 + 1
    # Every image but the last few reached its end, and the printout shows each step of each image.
    finals = [image for image in state.images.values() if KNOWN_STATUSES[image.status_at(clock.now)][1]]
    assert len(finals) >= traffic.made - 4
    assert sum("new → QUEUED" in line for line in lines) == traffic.made == len(seen)
    assert any("GENERATING → MODERATED" in line or "GENERATING → FAILED" in line for line in lines)
    assert any("PROCESSING → COMPLETED" in line for line in lines)


def test_pace_zero_makes_no_image() -> None:
    clock = Clock()
    state = SimState("tok", clock=clock)
    traffic = Traffic(state, ACCOUNTS, Pace(0, 0))
    for _ in range(100):
        traffic.step()
        clock.now += 1
    assert traffic.made == 0 and not state.images
