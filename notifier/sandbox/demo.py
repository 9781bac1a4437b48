"""``notifier demo``: the whole service on loopback, with nothing to configure.

A simulated upstream with two accounts, a private Redis, the real poller and
delivery worker processes, and a local receiver that verifies every
webhook's signature; each event is shown as it arrives, then a summary.
Images and videos are made; one video never finishes, and is announced
stalled after ``STALL_AFTER_S``.
``--webhook-url`` and ``--slack-url`` send the same events to real sinks too.

The poller serves the console and API (its URL is printed first): the events show up there as they are
delivered. The receiver refuses one event's first delivery on purpose (HTTP 400, a final refusal), so the
console has a failed delivery to replay; run from a terminal (or with ``--stay``), the demo stays up after
its events until Ctrl-C, showing what a replay delivers.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from notifier.runtime.procs import dies_with_this_process
from notifier.runtime.sink_config import check_http_url, check_webhook_secret, new_secret
from notifier.sandbox.demo_script import ACCOUNTS, SCRIPT, STALL_AFTER_S, expected_events, start_items
from notifier.sandbox.receiver import Received, WebhookReceiver
from notifier.sandbox.sim_state import SimState
from notifier.sandbox.simulator import Simulator

TOKEN = "user:1-demo"  # noqa: S105 - the simulator's token, not a secret
REFUSED_EVENT = 5
"""The receiver refuses the first delivery of the fifth event it sees: a failed delivery to replay."""
CONSOLE_PORT = 8081
@dataclass
class DemoResult:
    expected: int
    received: list[Received] = field(default_factory=list)
    """Accepted deliveries (a replay of one already accepted counts again)."""
    refused: list[Received] = field(default_factory=list)

    @property
    def verified(self) -> int:
        return sum(r.verified for r in self.received)

    @property
    def delivered(self) -> int:
        return len({r.webhook_id for r in self.received})

    @property
    def complete(self) -> bool:
        """Every event arrived verified, except the one refused on purpose (until it is replayed)."""
        return (self.delivered + (0 if self._replayed else len(self.refused)) >= self.expected
                and self.verified == len(self.received))

    @property
    def _replayed(self) -> bool:
        return bool(self.refused) and all(r.webhook_id in {a.webhook_id for a in self.received}
                                          for r in self.refused)


def _line(received: Received) -> str:
    payload = received.payload or {}
    data = payload.get("data", {})
    sent = payload.get("timestamp", "")
    try:
        latency = f"{(received.at - datetime.fromisoformat(sent.replace('Z', '+00:00')).timestamp()) * 1000:4.0f} ms"
    except ValueError:
        latency = "   ? ms"
    kind = str(payload.get("type", "")).partition(".")[2]
    change = f"{data.get('previous_status') or 'new'} → {data.get('status')}"
    if kind in ("stalled", "expired"):
        change = f"{data.get('status')}: {kind}"
    mark = "✓ signature verified" if received.verified else f"✗ {received.error}"
    if received.status >= 300:
        mark = f"✗ refused on purpose (HTTP {received.status}): replay it from the console"
    stamp = datetime.fromtimestamp(received.at).strftime("%H:%M:%S.%f")[:-3]
    image = str(data.get("image_id") or data.get("video_id") or "?").rsplit("-", 1)[-1]
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
        "NOTIFIER_STALL_AFTER_S": str(STALL_AFTER_S),
        "NOTIFIER_DELIVERY_BACKOFF_BASE_S": "1",
        "NOTIFIER_WEBHOOKS": json.dumps(hooks),
        "PYTHONUNBUFFERED": "1",
    })
    if slack_url:
        env["NOTIFIER_SLACK_WEBHOOK_URL"] = slack_url
    return env


class RefuseOnce:
    """The receiver's answers: 400 to the first delivery of the ``REFUSED_EVENT``-th event, else 200."""

    def __init__(self) -> None:
        self._seen: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, headers: dict[str, str]) -> tuple[int, dict[str, str], float]:
        webhook_id = headers.get("webhook-id", "")
        with self._lock:
            first = webhook_id not in self._seen
            if first:
                self._seen.append(webhook_id)
            refuse = first and len(self._seen) == REFUSED_EVENT
        return (400, {}, 0.0) if refuse else (200, {}, 0.0)


def console_port() -> int:
    """8081 when it is free (a URL to remember), else any free port."""
    for port in (CONSOLE_PORT, 0):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError("no free port for the console")


def _wait_for_console(url: str, stop: threading.Event, deadline: float) -> bool:
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "api/openapi.json", timeout=1):  # noqa: S310 - loopback
                return True
        except OSError:
            stop.wait(0.1)
    return False


def run_demo(
    *,
    duration_s: float | None = 60.0,
    stay: bool = False,
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
    result = DemoResult(expected=expected_events())
    lock = threading.Lock()

    def on_receive(received: Received) -> None:
        with lock:
            (result.received if received.status < 300 else result.refused).append(received)
            print(_line(received), file=out, flush=True)

    secret = new_secret()
    state = SimState(TOKEN)
    for email in ACCOUNTS:
        state.add_history(email, 3)
    started = time.monotonic()
    children: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="nd-") as tmp, Simulator(state) as sim, \
            _redis(Path(tmp), out) as (redis_url, prefix):
        receiver = WebhookReceiver(secret, on_receive, reply=RefuseOnce())
        hooks: list[dict[str, Any]] = [{"url": receiver.url, "secret": secret, "name": "demo_receiver"}]
        if webhook_url:
            extra_secret = webhook_secret or new_secret()
            hooks.append({"url": webhook_url, "secret": extra_secret, "name": "your_webhook"})
            if not webhook_secret:
                print(f"your webhook is signed with {extra_secret}", file=out)
        env = _settings_env(redis_url, prefix, sim.url, hooks, slack_url)
        port = console_port()
        console = f"http://127.0.0.1:{port}/"
        deadline = started + duration_s if duration_s is not None else float("inf")
        log = (Path(tmp) / "processes.log").open("wb")
        try:
            for role in ("poller", "worker"):
                # The poller serves the console; /healthz and the rest are not needed here.
                role_env = {**env, "NOTIFIER_HTTP_PORT": "0", "NOTIFIER_HTTP_HOST": "127.0.0.1",
                            "NOTIFIER_API_PORT": str(port) if role == "poller" else "0"}
                children.append(subprocess.Popen(
                    [sys.executable, "-m", "notifier.cli", role], env=role_env, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True, preexec_fn=dies_with_this_process(signal.SIGKILL),
                ))
            print(f"simulated upstream with {len(ACCOUNTS)} accounts at {sim.url}; poller and worker started",
                  file=out, flush=True)
            if _wait_for_console(console, stop, deadline):
                print(f"console: {console}  (events show up there live; one delivery is refused on purpose, to "
                      "replay from the page)", file=out, flush=True)
            if _wait_for_first_polls(state, stop, deadline=deadline):
                start_items(state)
                videos = sum(medium == "videos" for _, medium, _ in SCRIPT)
                print(f"{len(SCRIPT) - videos} images and {videos} videos start generating (one video never "
                      f"finishes: stalled after {STALL_AFTER_S} s); events as they arrive:", file=out, flush=True)
                while not stop.is_set() and time.monotonic() < deadline:
                    with lock:
                        if result.complete:
                            break
                    stop.wait(0.1)
                if stay and not stop.is_set() and time.monotonic() < deadline:
                    print(f"the console stays up at {console}: replay the refused delivery there; Ctrl-C stops "
                          "the demo", file=out, flush=True)
                    while not stop.is_set() and time.monotonic() < deadline:
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
    _summary(result, time.monotonic() - started, out, interrupted=stop.is_set() and not stay)
    return 0 if result.complete else 1


def _wait_for_first_polls(state: SimState, stop: threading.Event, deadline: float) -> bool:
    """Images made before an account's first poll would be recorded silently: wait for it."""
    while not stop.is_set() and time.monotonic() < deadline:
        if all(state.count(medium, email) >= 1 for email in ACCOUNTS for medium in ("images", "videos")):
            return True
        stop.wait(0.05)
    return False


def _summary(result: DemoResult, elapsed_s: float, out: IO[str], *, interrupted: bool) -> None:
    latencies = []
    for r in result.received:
        try:
            sent = datetime.fromisoformat(str((r.payload or {}).get("timestamp", "")).replace("Z", "+00:00"))
        except ValueError:
            continue
        latencies.append((r.at - sent.timestamp()) * 1000)
    head = "interrupted: " if interrupted else ""
    line = (f"{head}{result.delivered} of {result.expected} events in {elapsed_s:.1f} s, "
            f"{result.verified} with a verified signature")
    if result.refused and not result._replayed:
        line += f", {len(result.refused)} refused on purpose (not replayed)"
    if latencies:
        line += f"; delivery latency median {statistics.median(latencies):.0f} ms, max {max(latencies):.0f} ms"
    print(line, file=out)
    if result.complete:
        print("All good. Next, the service itself: against `scripts/run simulate` ('Try it, test it' in the "
              "README) or your own account ('Use your account').", file=out)
    else:
        print("Some events did not arrive: run with NOTIFIER_LOG_LEVEL=DEBUG, or see the README.", file=out)

