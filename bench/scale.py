"""Scale figures: one cycle over many accounts with 1, 2 and 4 pollers, upstream requests per cycle for each,
takeover time after a SIGKILL, Redis memory per account.

The simulated upstream runs in its own process (its CPU is not the pollers'); the pollers are real
``notifier poller`` processes started together, discovering the accounts with ``GET /accounts``. The cycle
is their first: from the first account's poll to the last's (the poll times in Redis); the requests are
all the simulator answered from the pollers' start until every account had been polled, so a poll made
twice while the pollers find each other is counted. The takeover is measured with the default settings
over as many accounts as the pollers keep up with (a poller that cannot poll its accounts within the
interval takes a dead one's over at its own pace).
"""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis

from bench.harness import env_for, simulator, spawn, stop
from notifier.polling.shard import owner
from notifier.state.keys import Keys

TOKEN = "user:1-bench"  # noqa: S105 - the simulator's token
HISTORY = 3


@contextmanager
def counting_simulator(accounts: int) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """A simulated upstream in its own process that says how many requests it answered when asked."""
    with simulator(TOKEN, accounts, HISTORY) as started:
        yield started


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
    memory_per_account_b: float | None = None


CYCLE_INTERVAL_S = 600.0
"""The measured cycles run with this poll interval: no account is due twice within one, so every request
beyond one per account is a poll made twice by two pollers."""


def _env(redis_url: str, sim_url: str, prefix: str, **more: object) -> dict[str, str]:
    return env_for({"useapi_token": TOKEN, "useapi_base_url": sim_url, "redis_url": redis_url, "key_prefix": prefix,
                    "queue_name": prefix, "http_port": 0, "log_level": "WARNING", **more})


def run(redis_url: str, sim_url: str, sim: subprocess.Popen[str], accounts: int, pollers: int) -> ScaleRun:
    """``pollers`` pollers started together over every account: their first cycle."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    base_memory = int(client.info("memory")["used_memory"])
    prefix = f"scale{random.randrange(10**9)}"
    keys = Keys(prefix)
    env = _env(redis_url, sim_url, prefix, poll_interval_s=CYCLE_INTERVAL_S)
    counted = _requests(sim)
    procs = [spawn(["poller"], env) for _ in range(pollers)]
    try:
        _wait(lambda: client.zcard(keys.accounts()) >= accounts, 900, "every account's first poll")
        requests = _requests(sim) - counted
        scored: list[tuple[bytes, float]] = client.zrange(keys.accounts(), 0, -1, withscores=True)  # type: ignore[assignment]
        polled_at = [at for _, at in scored]
    finally:
        for proc in procs:
            stop(proc)
    # Measured with the pollers gone: their connections' buffers are not state.
    memory = (int(client.info("memory")["used_memory"]) - base_memory) / accounts
    client.flushdb()
    return ScaleRun(pollers, max(polled_at) - min(polled_at), requests, accounts, memory_per_account_b=memory)


def takeover(redis_url: str, sim_url: str, accounts: int, pollers: int) -> float:
    """Seconds from a poller's SIGKILL until every account it owned has been polled by another, with the
    default settings and ``accounts`` the pollers keep up with."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    prefix = f"takeover{random.randrange(10**9)}"
    keys = Keys(prefix)
    emails = [f"user{n}@example.com" for n in range(accounts)]
    procs = [spawn(["poller"], _env(redis_url, sim_url, prefix, accounts=",".join(emails))) for _ in range(pollers)]
    try:
        _wait(lambda: client.zcard(keys.accounts()) >= accounts, 300, "every account's first poll")
        _wait(lambda: client.zcard(keys.pollers()) >= pollers, 60, "every poller checking in")
        time.sleep(2.0)  # one more check-in each: every poller polls its own share only
        return _kill_one(client, keys, procs, emails)
    finally:
        for proc in procs:
            stop(proc)
        client.flushdb()


def _kill_one(client: redis.Redis, keys: Keys, procs: list[subprocess.Popen[bytes]], emails: list[str]) -> float:
    victim = procs[-1]
    listed: list[bytes] = client.zrange(keys.pollers(), 0, -1)  # type: ignore[assignment]
    members = [m.decode() for m in listed]
    victim_id = next(m for m in members if m.split(":")[-2] == str(victim.pid))
    orphans = [email for email in emails if owner(email, members) == victim_id]
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_wall, killed = time.time(), time.monotonic()

    def taken() -> bool:
        scores = client.zmscore(keys.accounts(), orphans)
        return all(score is not None and score > killed_wall for score in scores)

    _wait(taken, 120, "the killed poller's accounts polled by the others")
    return time.monotonic() - killed


def scale(redis_url: str, accounts: int, takeover_accounts: int, counts: tuple[int, ...] = (1, 2, 4)
          ) -> tuple[list[ScaleRun], float]:
    with counting_simulator(accounts) as (url, sim):
        runs = [run(redis_url, url, sim, accounts, n) for n in counts]
        return runs, takeover(redis_url, url, takeover_accounts, max(counts))
