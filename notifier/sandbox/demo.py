"""``notifier demo``: the whole service on loopback, with nothing to configure.

A simulated upstream with two accounts, a private Redis, the real poller and
delivery worker processes, and a local receiver that verifies every
webhook's signature; each event is shown as it arrives, then a summary.
``--webhook-url`` and ``--slack-url`` send the same events to real sinks too.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from notifier.runtime.procs import dies_with_this_process
from notifier.runtime.sink_config import check_http_url, check_webhook_secret, new_secret
from notifier.sandbox.receiver import Received, WebhookReceiver
from notifier.sandbox.sim_state import SimState
from notifier.sandbox.simulator import Simulator

TOKEN = "user:1-demo"  # noqa: S105 - the simulator's token, not a secret
ACCOUNTS = ("artist1@example.com", "artist2@example.com")
STEP_S = 1.5
# (account index, the statuses that follow QUEUED, STEP_S apart): one event per status.
SCRIPT: list[tuple[int, list[int]]] = [(0, [9, 10, 1]), (1, [9, 10, 1]), (0, [9, 7]), (1, [9, 8])]


@dataclass
class DemoResult:
    expected: int
    received: list[Received] = field(default_factory=list)

    @property
    def verified(self) -> int:
        return sum(r.verified for r in self.received)

    @property
    def complete(self) -> bool:
        return len(self.received) >= self.expected and self.verified == len(self.received)


def _line(received: Received) -> str:
    payload = received.payload or {}
    data = payload.get("data", {})
    sent = payload.get("timestamp", "")
    try:
        latency = f"{(received.at - datetime.fromisoformat(sent.replace('Z', '+00:00')).timestamp()) * 1000:4.0f} ms"
    except ValueError:
        latency = "   ? ms"
    change = f"{data.get('previous_status') or 'new'} → {data.get('status')}"
    mark = "✓ signature verified" if received.verified else f"✗ {received.error}"
    stamp = datetime.fromtimestamp(received.at).strftime("%H:%M:%S.%f")[:-3]
    image = str(data.get("image_id", "?")).rsplit("-", 1)[-1]
    return f"{stamp}  {data.get('email', '?'):<20} {image:<15} {change:<24} {latency}  {mark}"


@contextmanager
def _redis(workdir: Path, out: IO[str]) -> Iterator[tuple[str, str]]:
    """(url, key prefix): NOTIFIER_REDIS_URL with a prefix of its own, else a private embedded server."""
    url = os.environ.get("NOTIFIER_REDIS_URL", "")
    prefix = f"notifier-demo-{os.getpid()}"
    if url:
        yield url, prefix
        return
    from notifier.runtime.embedded_redis import EmbeddedRedis

    print("starting a private Redis …", file=out, flush=True)
    with EmbeddedRedis(workdir / "redis") as server:
        yield server.url, prefix


def _settings_env(url: str, prefix: str, sim_url: str, hooks: list[dict[str, Any]], slack_url: str | None
                  ) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTIFIER_")}
    env.update({
        "NOTIFIER_USEAPI_TOKEN": TOKEN,
        "NOTIFIER_USEAPI_BASE_URL": sim_url,
        "NOTIFIER_ACCOUNTS": ",".join(ACCOUNTS),
        "NOTIFIER_REDIS_URL": url,
        "NOTIFIER_KEY_PREFIX": prefix,
        "NOTIFIER_QUEUE_NAME": prefix,
        "NOTIFIER_POLL_INTERVAL_S": "0.5",
        "NOTIFIER_DELIVERY_BACKOFF_BASE_S": "1",
        "NOTIFIER_WEBHOOKS": json.dumps(hooks),
        "PYTHONUNBUFFERED": "1",
    })
    if slack_url:
        env["NOTIFIER_SLACK_WEBHOOK_URL"] = slack_url
    return env


def run_demo(
    *,
    duration_s: float = 60.0,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    slack_url: str | None = None,
    out: IO[str] = sys.stdout,
) -> int:
    for url in filter(None, (webhook_url, slack_url)):
        check_http_url(url)
    if webhook_secret:
        check_webhook_secret(webhook_secret)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    result = DemoResult(expected=sum(1 + len(steps) for _, steps in SCRIPT))
    lock = threading.Lock()

    def on_receive(received: Received) -> None:
        with lock:
            result.received.append(received)
            print(_line(received), file=out, flush=True)

    secret = new_secret()
    state = SimState(TOKEN)
    for email in ACCOUNTS:
        state.add_history(email, 3)
    started = time.monotonic()
    children: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="nd-") as tmp, Simulator(state) as sim, \
            _redis(Path(tmp), out) as (redis_url, prefix):
        receiver = WebhookReceiver(secret, on_receive)
        hooks: list[dict[str, Any]] = [{"url": receiver.url, "secret": secret, "name": "demo_receiver"}]
        if webhook_url:
            extra_secret = webhook_secret or new_secret()
            hooks.append({"url": webhook_url, "secret": extra_secret, "name": "your_webhook"})
            if not webhook_secret:
                print(f"your webhook is signed with {extra_secret}", file=out)
        env = _settings_env(redis_url, prefix, sim.url, hooks, slack_url)
        log = (Path(tmp) / "processes.log").open("wb")
        try:
            for role in ("poller", "worker"):
                children.append(subprocess.Popen(
                    [sys.executable, "-m", "notifier.cli", role], env=env, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True, preexec_fn=dies_with_this_process(signal.SIGKILL),
                ))
            print(f"simulated upstream with {len(ACCOUNTS)} accounts at {sim.url}; poller and worker started",
                  file=out, flush=True)
            if _wait_for_first_polls(state, stop, deadline=started + duration_s):
                _start_images(state)
                print(f"{len(SCRIPT)} images start generating; events as they arrive:", file=out, flush=True)
                while not stop.is_set() and time.monotonic() - started < duration_s:
                    with lock:
                        if result.complete or len(result.received) >= result.expected:
                            break
                    stop.wait(0.1)
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
            receiver.stop()
            log.close()
            if not result.complete:
                tail = (Path(tmp) / "processes.log").read_text(errors="replace").strip().splitlines()[-15:]
                print("last lines of the poller's and worker's logs:", *tail, sep="\n  ", file=out)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    _summary(result, time.monotonic() - started, out, interrupted=stop.is_set())
    return 0 if result.complete else 1


def _wait_for_first_polls(state: SimState, stop: threading.Event, deadline: float) -> bool:
    """Images made before an account's first poll would be recorded silently: wait for it."""
    while not stop.is_set() and time.monotonic() < deadline:
        if all(state.count("images", email) >= 1 for email in ACCOUNTS):
            return True
        stop.wait(0.05)
    return False


def _start_images(state: SimState) -> None:
    for account, steps in SCRIPT:
        state.add_image(ACCOUNTS[account], 5, steps=[(STEP_S * (n + 1), code) for n, code in enumerate(steps)])


def _summary(result: DemoResult, elapsed_s: float, out: IO[str], *, interrupted: bool) -> None:
    latencies = []
    for r in result.received:
        try:
            sent = datetime.fromisoformat(str((r.payload or {}).get("timestamp", "")).replace("Z", "+00:00"))
        except ValueError:
            continue
        latencies.append((r.at - sent.timestamp()) * 1000)
    head = "interrupted: " if interrupted else ""
    line = (f"{head}{len(result.received)} of {result.expected} events in {elapsed_s:.1f} s, "
            f"{result.verified} with a verified signature")
    if latencies:
        line += f"; delivery latency median {statistics.median(latencies):.0f} ms, max {max(latencies):.0f} ms"
    print(line, file=out)
    if result.complete:
        print("All good. Next, the service itself: against `scripts/run simulate` ('Try it, test it' in the "
              "README) or your own account ('Use your account').", file=out)
    else:
        print("Some events did not arrive: run with NOTIFIER_LOG_LEVEL=DEBUG, or see the README.", file=out)

