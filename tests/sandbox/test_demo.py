"""`notifier demo`: every expected event arrives verified, and nothing is left running afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from notifier.sandbox.demo import expected_events
from tests.conftest import ROOT
from tests.support.processes import alive, descendants_of, wait_until

pytestmark = pytest.mark.integration

EXPECTED = expected_events()


@pytest.fixture
def no_redis_on_path(tmp_path: Path) -> Iterator[str]:
    """A PATH with every program the machine has, except Redis's."""
    hidden = tmp_path / "bin"
    hidden.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            target = Path(directory) / name
            if name.startswith("redis") or (hidden / name).exists() or not os.access(target, os.X_OK):
                continue
            (hidden / name).symlink_to(target)
    yield str(hidden)


def demo_env(path: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}
    if path is not None:
        env["PATH"] = path
    return env


def test_readme_first_command_without_redis_server(no_redis_on_path: str) -> None:
    started = time.monotonic()
    done = subprocess.run(["scripts/demo", "--duration", "60"], cwd=ROOT, env=demo_env(no_redis_on_path),
                          capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - started
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    events = [line for line in lines if line.endswith("✓ signature verified")]
    # One delivery is refused on purpose (the console's replay has something to mend).
    assert len(events) == EXPECTED - 1
    assert len([line for line in lines if "✗ refused on purpose (HTTP 400)" in line]) == 1
    assert f"{EXPECTED - 1} of {EXPECTED} events" in done.stdout and "1 refused on purpose" in done.stdout
    assert any(line.startswith("console: http://127.0.0.1:") for line in lines)
    for outcome in ("new → QUEUED", "QUEUED → GENERATING", "GENERATING → PROCESSING", "PROCESSING → COMPLETED",
                    "GENERATING → MODERATED", "GENERATING → FAILED", "GENERATING: stalled"):
        assert any(outcome in line for line in events), outcome
    videos = [line for line in events if " video:" in line]
    assert any("GENERATING → COMPLETED" in line for line in videos), videos
    assert any("GENERATING: stalled" in line for line in videos), videos
    assert elapsed < 60


def start_demo() -> tuple[subprocess.Popen[str], set[int]]:
    demo = subprocess.Popen([sys.executable, "-m", "notifier.cli", "demo", "--duration", "60"], cwd=ROOT,
                            env=demo_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert demo.stdout is not None
    for line in demo.stdout:
        if "signature verified" in line:
            break
    family = descendants_of(demo.pid)
    # Redis, the poller, the worker and the worker's scheduler.
    assert len(family) >= 4, family
    return demo, family


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_stopping_the_demo_leaves_no_process_behind(sig: int) -> None:
    demo, family = start_demo()
    demo.send_signal(sig)
    out, _ = demo.communicate(timeout=30)
    if sig != signal.SIGKILL:
        assert "interrupted:" in out
    wait_until(lambda: not any(alive(pid) for pid in family), 30, f"{family} to exit")


def test_the_demo_shows_its_events_in_the_console_and_the_refused_one_can_be_replayed() -> None:
    demo = subprocess.Popen([sys.executable, "-m", "notifier.cli", "demo", "--stay", "--duration", "90"], cwd=ROOT,
                            env=demo_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert demo.stdout is not None
    seen: list[str] = []
    try:
        url = ""
        for line in demo.stdout:
            seen.append(line)
            if line.startswith("console: "):
                url = line.split()[1]
                break
        assert url.startswith("http://127.0.0.1:"), seen
        # Live: events appear through the API while the demo runs.
        wait_until(lambda: bool(httpx.get(url + "api/events").json()["events"]), 60, "an event in the console")
        for line in demo.stdout:
            seen.append(line)
            if "refused on purpose" in line:
                break
        failed: list[dict[str, object]] = []
        wait_until(lambda: bool(failed.extend(httpx.get(url + "api/events", params={"outcome": "failed"}).json()
                                              ["events"]) or failed), 30, "the refused delivery in the log")
        event_id = str(failed[0]["id"])
        answer = httpx.post(f"{url}api/events/{event_id}/replay", json={"sink": "demo_receiver"})
        assert answer.status_code == 202, answer.text
        wait_until(lambda: httpx.get(f"{url}api/events/{event_id}").json()["outcome"] == "delivered", 30,
                   "the replayed delivery")
        attempts = httpx.get(f"{url}api/events/{event_id}").json()["attempts"]
        assert [(a["attempt"], a["outcome"]) for a in attempts] == [(1, "failed"), (2, "delivered")]
        for line in demo.stdout:  # every event arrived, the replayed one included: the demo waits for Ctrl-C
            seen.append(line)
            if line.startswith("the console stays up"):
                break
    finally:
        demo.send_signal(signal.SIGTERM)
        out, _ = demo.communicate(timeout=30)
    assert demo.returncode == 0, "".join(seen) + out
