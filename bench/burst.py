"""Burst figures: the ceiling (an aiohttp loop with the same in-flight limit) and a whole account's burst
from the upstream to the receiver through one `notifier run`."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
import time

import aiohttp
import redis

from bench.delivery import SECRET, events
from bench.harness import Receiver, env_for, free_port, spawn, stop
from notifier.runtime.procs import die_with_parent
from notifier.state.keys import Keys

TOKEN = "user:1-bench"  # noqa: S105 - the simulator's token
ACCOUNT = "burst@example.com"


def aiohttp_loop(receiver: Receiver, count: int, concurrency: int) -> float:
    """The ceiling: the same signed bodies POSTed by one aiohttp session, ``concurrency`` in flight."""
    from notifier.delivery.sinks import webhook
    from notifier.runtime.sink_config import WebhookConfig

    config = WebhookConfig(url=receiver.url, secret=SECRET)
    requests = [webhook.build_request(event, config, time.time()) for event in events(count, f"a{random.random()}-")]

    async def run() -> float:
        slots = asyncio.Semaphore(concurrency)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
            async def one(url: str, body: bytes, headers: dict[str, str]) -> None:
                async with slots, session.post(url, data=body, headers=headers) as response:
                    await response.read()

            started = time.perf_counter()
            await asyncio.gather(*(one(r.url, r.body, r.headers) for r in requests))
            return count / (time.perf_counter() - started)

    return asyncio.run(run())


_SIM = """
import sys, time
from notifier.sandbox.simulator import Simulator
from notifier.sandbox.sim_state import SimState
state = SimState(sys.argv[1])
state.add_account(sys.argv[2])
images = [state.add_image(sys.argv[2], 9) for _ in range(int(sys.argv[3]))]
sim = Simulator(state, port=int(sys.argv[4])).start()
print(sim.url, flush=True)
sys.stdin.readline()  # "go": every image completes at once
for image in images:
    state.set_status(image, 1)
print(time.time(), flush=True)
sys.stdin.readline()
"""


def account_burst(redis_url: str, receiver: Receiver, count: int, run_id: int) -> float:
    """Seconds from the moment ``count`` images of one account complete upstream (all at once, once the
    account was baselined with them generating) until the receiver has every ``image.completed``, through
    one `notifier run` with default settings."""
    receiver.reset()
    receiver.track_changes = True
    sim = subprocess.Popen([sys.executable, "-c", _SIM, TOKEN, ACCOUNT, str(count), str(free_port())],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=die_with_parent)
    assert sim.stdout is not None and sim.stdin is not None
    url = sim.stdout.readline().strip()
    prefix = f"burst{run_id}"
    values = {"useapi_token": TOKEN, "useapi_base_url": url, "accounts": ACCOUNT, "redis_url": redis_url,
              "key_prefix": prefix, "queue_name": prefix, "http_port": 0, "log_level": "WARNING",
              "webhooks": json.dumps([{"url": receiver.url, "secret": SECRET}])}
    run = spawn(["run"], env_for(values))
    store = redis.Redis.from_url(redis_url)
    keys = Keys(prefix)
    try:
        # The images are history until the first poll has recorded every one of them (a baseline spans polls).
        deadline = time.monotonic() + 120
        while (store.hlen(keys.tracked(ACCOUNT)) < count or not store.hexists(keys.meta(ACCOUNT), "baselined_at")) \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        sim.stdin.write("go\n")
        sim.stdin.flush()
        completed_at = float(sim.stdout.readline())
        deadline = time.monotonic() + 300
        done = 0
        while done < count and time.monotonic() < deadline:
            time.sleep(0.05)
            done = sum(key.endswith("|COMPLETED") for key in list(receiver.changes))
        last = max((at for key, at in list(receiver.changes.items()) if key.endswith("|COMPLETED")), default=0.0)
    finally:
        stop(run)
        sim.stdin.close()
        stop(sim)  # type: ignore[arg-type]
        receiver.track_changes = False
    if done < count:
        return float("inf")
    return last - completed_at
