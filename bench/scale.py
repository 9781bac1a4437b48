"""Scale figures: one cycle over many accounts with 1, 2 and 4 pollers, upstream requests per cycle for each,
takeover time after a SIGKILL, Redis memory per account.

The simulated upstream runs in its own process (its CPU is not the pollers'); the pollers are real
``notifier poller`` processes started together, discovering the accounts with ``GET /accounts``. The cycle
is their first: from the first account's poll to the last's (the poll times in Redis); the requests are
all the simulator answered from the pollers' start until every account had been polled, so a poll made
twice while the pollers find each other is counted.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis

from bench.harness import env_for, free_port, spawn, stop
from notifier.polling.shard import owner
from notifier.runtime.procs import die_with_parent
from notifier.state.keys import Keys

TOKEN = "user:1-bench"  # noqa: S105 - the simulator's token
HISTORY = 3

_SIM_SCRIPT = """
import sys
from notifier.sandbox.simulator import Simulator
from notifier.sandbox.sim_state import SimState
state = SimState(sys.argv[1])
for n in range(int(sys.argv[2])):
    state.add_history(f"user{n}@example.com", int(sys.argv[3]))
sim = Simulator(state, port=int(sys.argv[4])).start()
print(sim.url, flush=True)
for line in sys.stdin:
    print(state.count(), flush=True)
"""


@contextmanager
def counting_simulator(accounts: int) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A simulated upstream in its own process that says how many requests it answered when asked."""
    proc = subprocess.Popen([sys.executable, "-c", _SIM_SCRIPT, TOKEN, str(accounts), str(HISTORY), str(free_port())],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            preexec_fn=die_with_parent)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    try:
        yield url, proc
    finally:
        stop(proc)  # type: ignore[arg-type]


def _requests(sim: subprocess.Popen[str]) -> int:
    assert sim.stdin is not None and sim.stdout is not None
    sim.stdin.write("count\n")
    sim.stdin.flush()
    return int(sim.stdout.readline())


def _wait(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"bench: timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.05)


@dataclass
class ScaleRun:
    pollers: int
    cycle_s: float
    requests: int
    accounts: int
    takeover_s: float | None = None
    memory_per_account_b: float | None = None


def run(redis_url: str, sim_url: str, sim: subprocess.Popen[str], accounts: int, pollers: int, *,
        takeover: bool = False) -> ScaleRun:
    """``pollers`` pollers over every account: one measured cycle, then (``takeover``) one SIGKILLed."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    base_memory = int(client.info("memory")["used_memory"])
    prefix = f"scale{random.randrange(10**9)}"
    keys = Keys(prefix)
    env = env_for({"useapi_token": TOKEN, "useapi_base_url": sim_url, "redis_url": redis_url, "key_prefix": prefix,
                   "queue_name": prefix, "http_port": 0, "log_level": "WARNING"})
    counted = _requests(sim)
    procs = [spawn(["poller"], env) for _ in range(pollers)]
    try:
        _wait(lambda: client.zcard(keys.accounts()) >= accounts, 600, "every account's first poll")
        requests = _requests(sim) - counted
        memory = (int(client.info("memory")["used_memory"]) - base_memory) / accounts
        polled_at = [at for _, at in client.zrange(keys.accounts(), 0, -1, withscores=True)]
        result = ScaleRun(pollers, max(polled_at) - min(polled_at), requests, accounts, memory_per_account_b=memory)
        if takeover:
            result.takeover_s = _takeover(client, keys, procs, accounts)
    finally:
        for proc in procs:
            stop(proc)
    client.flushdb()
    return result


def _takeover(client: redis.Redis, keys: Keys, procs: list[subprocess.Popen[bytes]], accounts: int) -> float:
    """Seconds from a poller's SIGKILL until every account it owned has been polled by another."""
    victim = procs[-1]
    members = [m.decode() for m in client.zrange(keys.pollers(), 0, -1)]
    victim_id = next(m for m in members if m.split(":")[-2] == str(victim.pid))
    emails = [f"user{n}@example.com" for n in range(accounts)]
    orphans = [email for email in emails if owner(email, members) == victim_id]
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_wall, killed = time.time(), time.monotonic()

    def taken() -> bool:
        scores = client.zmscore(keys.accounts(), orphans)
        return all(score is not None and score > killed_wall for score in scores)

    _wait(taken, 120, "the killed poller's accounts polled by the others")
    return time.monotonic() - killed


def scale(redis_url: str, accounts: int, counts: tuple[int, ...] = (1, 2, 4)) -> list[ScaleRun]:
    with counting_simulator(accounts) as (url, sim):
        return [run(redis_url, url, sim, accounts, n, takeover=n == max(counts)) for n in counts]


__all__ = ["ScaleRun", "scale"]
