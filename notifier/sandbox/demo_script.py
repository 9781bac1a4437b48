"""What the demo makes happen: images and videos, one of which never finishes (it is announced stalled)."""

from __future__ import annotations

from notifier.sandbox.sim_state import SimState

ACCOUNTS = ("artist1@example.com", "artist2@example.com")
STEP_S = 1.5
STALL_AFTER_S = 8
"""Longer than every finishing job takes here, so that only the video that never finishes stalls."""
# (account index, medium, the statuses that follow QUEUED, STEP_S apart): one event per status. A job
# whose last status is not final is announced stalled too (videos: 10 GENERATING, 1 COMPLETED).
SCRIPT: list[tuple[int, str, list[int]]] = [
    (0, "images", [9, 10, 1]), (1, "images", [9, 10, 1]), (0, "images", [9, 7]), (1, "images", [9, 8]),
    (0, "videos", [10, 1]), (1, "videos", [10]),
]


def expected_events() -> int:
    """Events the demo waits for: one per status, and one ``stalled`` per job that never finishes."""
    return sum(1 + len(steps) + (steps[-1] not in (1, 7, 8)) for _, _, steps in SCRIPT)


def start_items(state: SimState) -> None:
    for account, medium, steps in SCRIPT:
        state.add_image(ACCOUNTS[account], 5, steps=[(STEP_S * (n + 1), code) for n, code in enumerate(steps)],
                        medium=medium)
