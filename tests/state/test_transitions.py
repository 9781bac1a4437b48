import pytest

from notifier.state.transitions import Mode, Tracked, decide
from notifier.upstream.statuses import Status, resolve

NOW = 1_800_000_000.0
QUEUED, GENERATING, COMPLETED = Status("QUEUED", 5, False), Status("GENERATING", 9, False), Status("COMPLETED", 1, True)


def run(tracked: Tracked | None, known: bool, status: Status, mode: Mode = Mode.NORMAL, image: dict | None = None):
    return decide(tracked=tracked, known=known, status=status, image=image or {"image_id": "i"}, mode=mode,
                  now=NOW, max_age_s=3600)


def test_same_status_is_no_event() -> None:
    tracked = Tracked(GENERATING, NOW - 10)
    decision = run(tracked, True, GENERATING)
    assert not decision.emit
    assert decision.track == tracked


def test_change_is_one_event_and_keeps_tracking_until_final() -> None:
    decision = run(Tracked(QUEUED, NOW - 10), True, GENERATING)
    assert decision.emit and decision.previous == QUEUED
    assert decision.track == Tracked(GENERATING, NOW - 10)
    final = run(Tracked(GENERATING, NOW - 10), True, COMPLETED)
    assert final.emit and final.previous == GENERATING and final.track is None


def test_known_final_image_is_silent() -> None:
    assert run(None, True, COMPLETED) == run(None, True, COMPLETED, Mode.BACKFILL)
    assert not run(None, True, COMPLETED).emit


@pytest.mark.parametrize(("mode", "emits"), [(Mode.BASELINE, False), (Mode.NORMAL, True), (Mode.BACKFILL, True)])
def test_first_sight(mode: Mode, emits: bool) -> None:
    completed = run(None, False, COMPLETED, mode)
    assert completed.emit is emits and completed.track is None and completed.previous is None
    queued = run(None, False, QUEUED, mode)
    assert queued.emit is emits and queued.track == Tracked(QUEUED, NOW)


def test_unknown_code_changes_are_events() -> None:
    unknown6, unknown3 = resolve({"image_status": 6}), resolve({"image_status": 3})
    decision = run(Tracked(unknown6, NOW), True, unknown3)
    assert decision.emit and decision.track is not None


def test_image_tracked_beyond_the_age_limit_is_dropped() -> None:
    decision = run(Tracked(GENERATING, NOW - 3601), True, GENERATING)
    assert decision.gave_up and decision.track is None and not decision.emit
    # ...but a change is still announced first.
    assert run(Tracked(GENERATING, NOW - 3601), True, COMPLETED).emit


def test_old_unknown_image_is_recorded_without_event() -> None:
    old = {"image_id": "i", "created_at": "2020-01-01T00:00:00Z"}
    decision = run(None, False, QUEUED, Mode.NORMAL, old)
    assert not decision.emit and decision.track is None
    assert run(None, False, QUEUED, Mode.BACKFILL, old).emit


def test_tracked_state_round_trips() -> None:
    tracked = Tracked(Status("UNKNOWN", 6, False), 12.0)  # whole seconds are kept: memory
    assert Tracked.load(tracked.dump()) == tracked
