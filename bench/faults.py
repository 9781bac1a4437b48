"""`python -m bench.faults [--short]`: take `notifier run` through what production does to it, and count.

Its own Redis (append-only, fsync always), the simulated upstream, a receiver whose behaviour is
switched, and `notifier run` with two workers. Images keep being created and moving through
QUEUED → GENERATING → PROCESSING → COMPLETED (one step a second) while each fault is applied. A ledger
holds every transition made upstream and every event the receiver accepted (by webhook-id and by
(image, status)), and one table comes out: per fault, the transitions made, the changes announced, the
final statuses lost, the duplicates (same webhook-id again: a redelivery; same change under a new id:
detected twice) and the time from the fault's end until every final status reached before it had
arrived. Polling may skip a step shorter than its interval: only final statuses count as lost.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis
from rq import Worker

from bench.fault_receiver import FaultReceiver
from bench.harness import env_for
from notifier.runtime.procs import dies_with_this_process
from notifier.sandbox.sim_state import SimState
from notifier.sandbox.simulator import Simulator
from tests.support.processes import children_of
from tests.support.redis_server import RedisServer

TOKEN = "user:1-faults"  # noqa: S105 - the simulator's
SECRET = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # noqa: S105 - a test secret
ACCOUNTS = ["f1@example.com", "f2@example.com", "f3@example.com"]
STEPS = [(1.0, 9), (2.0, 10), (3.0, 1)]  # QUEUED now, then GENERATING, PROCESSING, COMPLETED
FINAL = "COMPLETED"


@dataclass
class Stack:
    server: RedisServer
    sim: SimState
    receiver: FaultReceiver
    run: subprocess.Popen[bytes]
    log: Path
    made: dict[str, float] = field(default_factory=dict)
    """image id → when it reached its final status upstream."""

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.server.url, socket_timeout=2)

    def role(self, role: str) -> list[int]:
        found = []
        for pid in children_of(self.run.pid):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if cmd[-2:-1] == [role.encode()]:
                found.append(pid)
        return found


def _start(short: bool) -> Stack:
    server = RedisServer(appendonly=True)
    state = SimState(TOKEN)
    for email in ACCOUNTS:
        state.add_history(email, 2)
    sim = Simulator(state).start()
    receiver = FaultReceiver(hang_s=5.0)
    values = {
        "useapi_token": TOKEN, "useapi_base_url": sim.url, "accounts": ",".join(ACCOUNTS),
        "redis_url": server.url, "webhook_url": receiver.url, "webhook_secret": SECRET,
        "poll_interval_s": 0.5, "poll_interval_active_s": 0.5, "delivery_timeout_s": 3,
        "delivery_job_timeout_s": 10, "delivery_backoff_base_s": 1, "delivery_backoff_max_s": 8,
        "worker_count": 2, "http_port": 0, "api_port": 0, "key_prefix": "faults",
    }
    log = Path(tempfile.mkstemp(prefix="notifier-faults-", suffix=".log")[1])
    run = subprocess.Popen([sys.executable, "-m", "notifier.cli", "run"], env=env_for(values),
                           stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
                           preexec_fn=dies_with_this_process(signal.SIGKILL))
    stack = Stack(server, state, receiver, run, log)
    _wait(lambda: len(stack.role("worker")) == 2 and _polled(stack), 60, "notifier run to start")
    return stack


def _polled(stack: Stack) -> bool:
    try:
        return all(stack.client().exists(f"faults:acct:{a}:meta") for a in ACCOUNTS)
    except redis.RedisError:
        return False


def _wait(predicate: Callable[[], bool], timeout_s: float, what: str) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            print(f"  (timed out after {timeout_s:.0f} s waiting for {what})", file=sys.stderr)
            return False
        time.sleep(0.1)
    return True


# --- faults: each applies itself and returns once it is over --------------------------------------------

def redis_away(sig: int, seconds: float) -> Callable[[Stack], None]:
    def fault(stack: Stack) -> None:
        stack.server.halt(sig)
        time.sleep(seconds)
        stack.server.start()
    return fault


def kill_worker_mid_batch(times: int) -> Callable[[Stack], None]:
    def fault(stack: Stack) -> None:
        stack.receiver.delay_s = 0.7
        for _ in range(times):
            def busy() -> list[int]:
                alive = set(stack.role("worker"))  # a killed worker's entry outlives it for a while
                try:
                    return [w.pid for w in Worker.all(connection=stack.client())
                            if w.get_current_job_id() and w.pid in alive]
                except redis.RedisError:
                    return []
            if _wait(lambda: bool(busy()), 20, "a worker mid-delivery"):
                pids = busy()
                if pids:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pids[0], signal.SIGKILL)
            time.sleep(2)
        stack.receiver.delay_s = 0.0
    return fault


def kill_poller(times: int, rng: random.Random) -> Callable[[Stack], None]:
    def fault(stack: Stack) -> None:
        for _ in range(times):
            time.sleep(rng.uniform(0.5, 3.0))
            if _wait(lambda: bool(stack.role("poller")), 40, "the poller"):
                with contextlib.suppress(ProcessLookupError, IndexError):
                    os.kill(stack.role("poller")[0], signal.SIGKILL)
    return fault


def receiver_mode(mode: str, seconds: float) -> Callable[[Stack], None]:
    def fault(stack: Stack) -> None:
        stack.receiver.set_mode(mode)
        time.sleep(seconds)
        stack.receiver.set_mode("ok")
    return fault


def faults(short: bool) -> list[tuple[str, Callable[[Stack], None]]]:
    rng = random.Random(11)
    d = 6.0 if short else 30.0
    r = 4.0 if short else 20.0
    chosen = [
        ("none (baseline)", lambda stack: time.sleep(r)),
        (f"Redis SIGTERM, away {d:.0f} s", redis_away(signal.SIGTERM, d)),
        (f"Redis SIGKILL (AOF), away {d:.0f} s", redis_away(signal.SIGKILL, d)),
        ("worker SIGKILL mid-batch" + ("" if short else " ×3"), kill_worker_mid_batch(1 if short else 3)),
        ("poller SIGKILL at random ×" + ("2" if short else "5"), kill_poller(2 if short else 5, rng)),
        (f"receiver 5xx for {r:.0f} s", receiver_mode("5xx", r)),
        (f"receiver 429 + Retry-After for {r:.0f} s", receiver_mode("429-retry-after", r)),
        (f"receiver 429, no Retry-After, for {r:.0f} s", receiver_mode("429-bare", r)),
        (f"receiver hangs past the timeout for {r:.0f} s", receiver_mode("hang", r)),
        (f"receiver refuses connections for {r:.0f} s", receiver_mode("refuse", r)),
    ]
    if short:
        keep = {0, 2, 3, 4, 5, 7, 9}
        chosen = [c for i, c in enumerate(chosen) if i in keep]
    return chosen


# --- images and the ledger ---------------------------------------------------------------------------------

def _make_images(stack: Stack, stop: threading.Event, mine: list[str]) -> None:
    accounts = itertools.cycle(ACCOUNTS)
    while not stop.wait(0.4):
        image = stack.sim.add_image(next(accounts), 5, steps=STEPS)
        stack.made[image] = time.time() + STEPS[-1][0]
        mine.append(image)


@dataclass
class Row:
    fault: str
    transitions: int
    announced: int
    lost: int
    dup_redelivered: int
    dup_redetected: int
    recover_s: float | None

    def cells(self) -> list[str]:
        recover = "never" if self.recover_s is None else f"{self.recover_s:.1f} s"
        return [self.fault, str(self.transitions), str(self.announced), str(self.lost),
                f"{self.dup_redelivered + self.dup_redetected} ({self.dup_redelivered} redelivered, "
                f"{self.dup_redetected} re-detected)", recover]


def run_phase(stack: Stack, name: str, fault: Callable[[Stack], None], settle_s: float) -> Row:
    stop, mine = threading.Event(), list[str]()
    maker = threading.Thread(target=_make_images, args=(stack, stop, mine), daemon=True)
    maker.start()
    time.sleep(1.5)
    fault(stack)
    ended = time.time()
    stop.set()
    maker.join()
    images = set(mine)

    def finals() -> dict[str, float]:
        got: dict[str, float] = {}
        for a in stack.receiver.snapshot():
            if a.image_id in images and a.status == FINAL:
                got.setdefault(a.image_id, a.at)
        return got

    _wait(lambda: len(finals()) == len(images), settle_s, f"the final statuses of {name}")
    time.sleep(2)  # late duplicates
    accepted = [a for a in stack.receiver.snapshot() if a.image_id in images]
    got = finals()
    due = [got[i] for i in images if i in got and stack.made[i] <= ended]
    late = [got[i] - stack.made[i] for i in images if i in got and stack.made[i] > ended]
    recover = max([max(0.0, at - ended) for at in due] + [max(0.0, x) for x in late], default=0.0)
    ids = [a.webhook_id for a in accepted]
    changes = {(a.image_id, a.status) for a in accepted}
    redelivered = len(ids) - len(set(ids))
    return Row(name, transitions=4 * len(images), announced=len(changes), lost=len(images) - len(got),
               dup_redelivered=redelivered, dup_redetected=len(set(ids)) - len(changes),
               recover_s=recover if len(got) == len(images) else None)


def run_suite(short: bool, out: Callable[[str], None] = print) -> list[Row]:
    stack = _start(short)
    rows = []
    try:
        for name, fault in faults(short):
            out(f"… {name}")
            rows.append(run_phase(stack, name, fault, settle_s=60 if short else 120))
            out("  " + " | ".join(rows[-1].cells()))
    finally:
        stack.run.send_signal(signal.SIGTERM)
        try:
            stack.run.wait(30)
        except subprocess.TimeoutExpired:
            stack.run.kill()
        stack.receiver.stop()
        stack.server.stop()
    return rows


def table(rows: list[Row]) -> str:
    head = ["fault", "transitions", "announced", "lost (final)", "duplicated", "time to recover"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split("\n")[0])
    parser.add_argument("--short", action="store_true", help="the CI version: fewer, shorter faults")
    args = parser.parse_args()
    started = time.monotonic()
    rows = run_suite(args.short)
    print(table(rows))
    print(f"\n{time.monotonic() - started:.0f} s in all")
    return 0 if all(row.lost == 0 for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
