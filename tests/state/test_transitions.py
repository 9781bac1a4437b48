from datetime import UTC, datetime

import pytest

from notifier.state.transitions import HISTORY_SLACK_S, Decision, Mode, Tracked, decide
from notifier.upstream.statuses import NO_INFORMATION, Status, deleted, resolve

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
    assert decision.emit and decision.previous == QUEUED and decision.seq == 0
    assert decision.track == Tracked(GENERATING, NOW - 10, seq=1, generating_at=NOW)
    final = run(Tracked(GENERATING, NOW - 10, seq=1), True, COMPLETED)
    assert final.emit and final.previous == GENERATING and final.track is None and final.seq == 1


def test_known_final_image_is_silent() -> None:
    assert run(None, True, COMPLETED) == run(None, True, COMPLETED, Mode.BACKFILL)
    assert not run(None, True, COMPLETED).emit


@pytest.mark.parametrize(("mode", "emits"), [(Mode.BASELINE, False), (Mode.NORMAL, True), (Mode.BACKFILL, True)])
def test_first_sight(mode: Mode, emits: bool) -> None:
    completed = run(None, False, COMPLETED, mode)
    assert completed.emit is emits and completed.track is None and completed.previous is None
    queued = run(None, False, QUEUED, mode)
    assert queued.emit is emits and queued.track == Tracked(QUEUED, NOW, seq=1 if emits else 0, queued_at=NOW)


def test_unknown_code_changes_are_events() -> None:
    unknown6, unknown3 = resolve({"image_status": 6}), resolve({"image_status": 3})
    decision = run(Tracked(unknown6, NOW), True, unknown3)
    assert decision.emit and decision.track is not None


def test_image_tracked_beyond_the_age_limit_is_dropped_with_one_expired_event() -> None:
    decision = run(Tracked(GENERATING, NOW - 3601, seq=2), True, GENERATING)
    assert decision.gave_up and decision.track is None and decision.emit
    assert decision.kind == "expired" and decision.status == GENERATING and decision.seq == 2
    assert decision.age_s == 3601
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


def test_no_status_is_no_transition() -> None:
    # Issue #10, case 4: a null status was "unknown", then a second false event back to the real status.
    tracked = Tracked(GENERATING, NOW - 10, seq=1)
    decision = run(tracked, True, NO_INFORMATION)
    assert not decision.emit and decision.track == tracked and not decision.skip
    # Never seen with a status: followed (tracked without one) so that lookups find its first status.
    unseen = run(None, False, NO_INFORMATION)
    assert not unseen.emit and not unseen.skip and unseen.track == Tracked(NO_INFORMATION, NOW)
    assert run(unseen.track, False, NO_INFORMATION) == Decision(emit=False, previous=None, track=unseen.track)
    gone = run(unseen.track, False, deleted())
    assert not gone.emit and gone.track is None and not gone.skip  # leaves silently, into the known set
    first = run(unseen.track, False, GENERATING)
    assert first.emit and first.previous is None and first.seq == 0
    assert run(None, True, NO_INFORMATION).track is None  # final or given up already: nothing to follow
    aged = run(Tracked(NO_INFORMATION, NOW - 7200), False, NO_INFORMATION)
    assert aged.gave_up and aged.track is None


def test_an_unseen_image_older_than_the_first_poll_is_history() -> None:
    # Issue #10, case 1: recent history the first poll did not read was announced as new later.
    def at(offset_s: float) -> dict[str, str]:
        stamp = datetime.fromtimestamp(NOW + offset_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"image_id": "i", "created_at": stamp}

    first_poll = NOW - 600
    history = decide(tracked=None, known=False, status=COMPLETED, image=at(-1200), mode=Mode.NORMAL, now=NOW,
                     max_age_s=86400, history_before=first_poll)
    assert not history.emit
    news = decide(tracked=None, known=False, status=COMPLETED, image=at(-300), mode=Mode.NORMAL, now=NOW,
                  max_age_s=86400, history_before=first_poll)
    assert news.emit
    # Within the slack (whole-second stamps, an upstream clock behind ours) it is announced, not dropped.
    near = decide(tracked=None, known=False, status=COMPLETED, image=at(-600 - HISTORY_SLACK_S / 2),
                  mode=Mode.NORMAL, now=NOW, max_age_s=86400, history_before=first_poll)
    assert near.emit


def test_old_tracked_state_without_a_sequence_loads() -> None:
    assert Tracked.load('["GENERATING",9,12]') == Tracked(GENERATING, 12.0, seq=0)


def decide_at(tracked: Tracked | None, status: Status, now: float, image: dict | None = None,
              stall_after_s: float | None = 900.0):
    return decide(tracked=tracked, known=tracked is not None, status=status, image=image or {"image_id": "i"},
                  mode=Mode.NORMAL, now=now, max_age_s=86400, stall_after_s=stall_after_s)


def test_stalled_once_then_the_final_event_still_comes() -> None:
    tracked = Tracked(GENERATING, NOW - 100, seq=1)
    assert not decide_at(tracked, GENERATING, NOW + 799).emit  # 899 s in progress
    stalled = decide_at(tracked, GENERATING, NOW + 801)
    assert stalled.emit and stalled.kind == "stalled" and stalled.status == GENERATING
    assert stalled.track == Tracked(GENERATING, NOW - 100, seq=1, stalled=True) and stalled.seq == 1
    assert stalled.age_s == pytest.approx(901)
    # Not repeated at the next polls, nor after another status change.
    assert not decide_at(stalled.track, GENERATING, NOW + 5000).emit
    later = decide_at(stalled.track, Status("PROCESSING", 10, False), NOW + 5001)
    assert later.emit and later.kind is None and later.track is not None and later.track.stalled
    assert not decide_at(later.track, Status("PROCESSING", 10, False), NOW + 6000).emit
    done = decide_at(later.track, COMPLETED, NOW + 6001)
    assert done.emit and done.kind is None and done.track is None and done.timing is not None


def test_stall_counts_from_the_upstream_creation_and_needs_no_status() -> None:
    tracked = Tracked(QUEUED, NOW, seq=1)
    born = {"image_id": "i", "created_at": datetime.fromtimestamp(NOW - 1000, tz=UTC).isoformat()}
    assert decide_at(tracked, QUEUED, NOW + 1, born).kind == "stalled"
    # An answer without a status (a video's lookup 404) still lets time run.
    assert decide_at(tracked, NO_INFORMATION, NOW + 901).kind == "stalled"
    assert not decide_at(tracked, QUEUED, NOW + 901, stall_after_s=None).emit


def test_timing_of_a_final_event_from_statuses_seen() -> None:
    tracked = Tracked(GENERATING, NOW, seq=2, queued_at=NOW, generating_at=NOW + 20)
    done = decide_at(tracked, COMPLETED, NOW + 50)
    assert done.timing == {"queued_s": 20.0, "generating_s": 30.0, "total_s": 50.0}


def test_tracked_state_with_marks_round_trips() -> None:
    tracked = Tracked(GENERATING, 12.0, seq=3, stalled=True, queued_at=12.5, generating_at=20.25, created=11.0)
    assert Tracked.load(tracked.dump()) == tracked
    assert Tracked.load('["QUEUED",5,12,1]') == Tracked(QUEUED, 12.0, seq=1)  # written by an older version
