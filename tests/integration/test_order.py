"""Per item and sink, events arrive in order: a later event waits behind a retrying earlier one (issue #14,
point 4), and other images are not held meanwhile."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pytest

from notifier.state.keys import Keys
from tests.integration.conftest import A, Stack
from tests.support.processes import settings_env, wait_until

pytestmark = pytest.mark.integration

QUEUED, GENERATING, COMPLETED = 5, 9, 1
REFUSED_TRIES = 2


def poll(stack: Stack) -> None:
    subprocess.run([sys.executable, "-m", "notifier.cli", "poll-once"], env=settings_env(stack.settings),
                   capture_output=True, timeout=60, check=True)


def outbox(stack: Stack) -> list[tuple[str, str]]:
    """(event id, item) of each entry of the webhook's outbox, in order."""
    rows = stack.redis.xrange(Keys(stack.settings.key_prefix).outbox("webhook"))
    return [(fields[b"id"].decode(), fields[b"item"].decode()) for _, fields in rows]  # type: ignore[union-attr]


def test_an_images_events_arrive_in_order_behind_its_failing_first_event(stack: Callable[..., Stack]) -> None:
    s = stack(delivery_backoff_base_s=0.5)
    poll(s)  # the baseline
    slow = s.sim.state.add_image(A, QUEUED)
    others = [s.sim.state.add_image(A, QUEUED) for _ in range(3)]
    poll(s)
    s.sim.state.set_status(slow, GENERATING)
    poll(s)
    s.sim.state.set_status(slow, COMPLETED)
    poll(s)
    queued = outbox(s)
    slow_ids = [eid for eid, item in queued if item == f"image:{slow}"]
    assert len(slow_ids) == 3 and len(queued) == 6  # queued, generating, completed; one each for the others
    first = slow_ids[0]
    # The receiver refuses the image's first event for its first tries (each retry ~0.5, ~1.5 s later).
    s.receiver.script = lambda webhook_id, before: (503, {}, 0.0) if webhook_id == first and before < REFUSED_TRIES \
        else (200, {}, 0.0)

    s.spawn(["worker"])
    got = s.receiver.wait_for(lambda got: any(r.webhook_id == slow_ids[-1] and r.status == 200 for r in got), 60)

    slow_tries = [r for r in got if r.webhook_id in slow_ids]
    # Every try of the image's events, in order: its first event until accepted, then each later one.
    assert [r.webhook_id for r in slow_tries] == [first] * (REFUSED_TRIES + 1) + slow_ids[1:]
    assert [r.status for r in slow_tries] == [503] * REFUSED_TRIES + [200, 200, 200]
    assert [(r.payload or {})["type"] for r in slow_tries[REFUSED_TRIES:]] == \
        ["image.queued", "image.generating", "image.completed"]
    # The other images were not held behind it: delivered before its first event got through.
    accepted_first = slow_tries[REFUSED_TRIES].at
    delivered_others = {(r.payload or {})["data"]["image_id"] for r in got if r.status == 200 and r.at < accepted_first}
    assert delivered_others == set(others)
    wait_until(lambda: outbox(s) == [], 10, "every entry settled and gone from the outbox")
