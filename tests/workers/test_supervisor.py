"""The supervisor's pure parts: restart back-off, and retiring a dead child's metric files."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from notifier.ops.metrics import retire_process
from workers.supervisor import RESTART_MAX_S, restart_delay_s


def test_restarts_back_off_exponentially_up_to_a_cap() -> None:
    assert [restart_delay_s(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert RESTART_MAX_S == 30


def _child_counting(directory: Path, times: int) -> int:
    code = textwrap.dedent(f"""
        import os
        from notifier.ops.metrics import metrics
        for _ in range({times}):
            metrics().deliveries.labels("webhook", "delivered").inc()
        print(os.getpid())
    """)
    done = subprocess.run([sys.executable, "-c", code], env={"PROMETHEUS_MULTIPROC_DIR": str(directory)},
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def _delivered(directory: Path) -> float:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    for line in generate_latest(registry).decode().splitlines():
        if line.startswith('notifier_deliveries_total{outcome="delivered"'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_dead_childs_files_are_folded_into_the_totals_and_removed(tmp_path: Path) -> None:
    pids = [_child_counting(tmp_path, 3), _child_counting(tmp_path, 4), _child_counting(tmp_path, 5)]
    assert _delivered(tmp_path) == 12
    for pid in pids:
        retire_process(pid, str(tmp_path))
        assert not (tmp_path / f"counter_{pid}.db").exists()
    assert _delivered(tmp_path) == 12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_retired.db", "histogram_retired.db"]
