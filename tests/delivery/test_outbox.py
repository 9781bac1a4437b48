"""A sink's outbox: which entry may go (holds per item), and what ends a hold."""

from __future__ import annotations

import fakeredis
import pytest

from notifier.delivery.outbox import Entry, Outbox, fields_of, hold_ttl_s, item_key
from notifier.state.events import Event
from notifier.state.keys import Keys

KEYS = Keys("t")


def entry(n: int, item: str) -> Entry:
    return Entry(f"{n}-0", Event(id=f"evt_{n}", type="image.queued", timestamp="", data={}), item)


@pytest.fixture
def outbox() -> Outbox:
    return Outbox(fakeredis.FakeRedis(), KEYS, hold_ttl_s=600)


def test_the_item_is_the_video_or_the_image() -> None:
    assert item_key({"image_id": "i1"}) == "image:i1"
    assert item_key({"video_id": "v1", "image_id": None}) == "video:v1"
    assert item_key({"image_id": ""}) == "unknown:"
    assert item_key({}) == "unknown:"


def test_an_items_later_event_waits_and_other_items_go(outbox: Outbox) -> None:
    assert outbox.claim("s", [entry(1, "image:a"), entry(2, "image:b"), entry(3, "image:a")]) == [True, True, False]
    assert outbox.claim("s", [entry(3, "image:a")]) == [False]
    # The holder may be claimed again (a dispatcher that died before settling it sends it again).
    assert outbox.claim("s", [entry(1, "image:a")]) == [True]
    wake = outbox.wake("s")
    assert outbox.release("s", "image:a", "evt_1") == 1  # evt_3 was waiting
    assert outbox.wake("s") == wake + 1
    assert outbox.claim("s", [entry(3, "image:a")]) == [True]
    assert outbox.release("s", "image:b", "evt_2") == 0  # nobody waited for b: no wake-up
    assert outbox.wake("s") == wake + 1


def test_only_the_holder_ends_or_keeps_a_hold(outbox: Outbox) -> None:
    store = outbox._redis
    outbox.claim("s", [entry(1, "image:a")])
    assert outbox.release("s", "image:a", "evt_9") == 0  # a replayed old delivery
    assert store.get(KEYS.hold("s", "image:a")) == b"evt_1"
    outbox.touch("s", "image:a", "evt_9", 5000)
    assert store.ttl(KEYS.hold("s", "image:a")) <= 600
    outbox.touch("s", "image:a", "evt_1", 5000)  # a retry due in 5,000 s keeps its hold until then and more
    assert store.ttl(KEYS.hold("s", "image:a")) > 5000


def test_entries_are_read_in_order_after_a_cursor(outbox: Outbox) -> None:
    store = outbox._redis
    for n in range(5):
        store.xadd(KEYS.outbox("s"), fields_of(Event(id=f"evt_{n}", type="image.completed", timestamp="t",
                                                     data={"image_id": f"i{n % 2}"})))
    first = outbox.read("s", None, 2)
    assert [e.event.id for e in first] == ["evt_0", "evt_1"] and first[1].item == "image:i1"
    rest = outbox.read("s", first[-1].entry_id, 10)
    assert [e.event.id for e in rest] == ["evt_2", "evt_3", "evt_4"]
    outbox.remove("s", [e.entry_id for e in first])
    assert outbox.length("s") == 3


def test_a_hold_outlasts_the_longest_wait_between_tries() -> None:
    assert hold_ttl_s(3600, 30) > 3600 + 30


def test_many_holds_end_in_one_call(outbox: Outbox) -> None:
    held = [entry(1, "image:a"), entry(2, "image:b"), entry(3, "image:c")]
    outbox.claim("s", [*held, entry(4, "image:a")])  # evt_4 waits behind evt_1
    outbox.claim("s", [entry(9, "image:c")])
    wake = outbox.wake("s")
    # evt_3's hold is not evt_9's to end; evt_1's had a waiter.
    assert outbox.release_all("s", [*held[:2], entry(9, "image:c")]) == 1
    assert outbox.wake("s") == wake + 1
    assert outbox.claim("s", [entry(4, "image:a"), entry(5, "image:b"), entry(6, "image:c")]) == [True, True, False]
