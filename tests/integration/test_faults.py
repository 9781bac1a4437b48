"""The short fault suite (`python -m bench.faults --short`): no final status is lost, whatever the fault."""

from __future__ import annotations

import time

import pytest

from bench.faults import run_suite, table

pytestmark = pytest.mark.integration


@pytest.mark.slow
def test_no_final_status_is_lost_through_the_short_fault_suite() -> None:
    started = time.monotonic()
    rows = run_suite(short=True)
    print(table(rows))
    print(f"{time.monotonic() - started:.0f} s")
    assert not [row.fault for row in rows if row.lost], table(rows)
    # Recovery is bounded: the longest is a dead endpoint's circuit (30 s) plus a retry.
    assert all(row.recover_s is not None and row.recover_s < 60 for row in rows), table(rows)
