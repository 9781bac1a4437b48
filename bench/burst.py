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

from bench.delivery import SECRET, events
from bench.harness import Receiver, env_for, free_port, spawn, stop
from notifier.runtime.procs import die_with_parent

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
import sys, time, threading
from notifier.sandbox.simulator import Simulator
from notifier.sandbox.sim_state import SimState
state = SimState(sys.argv[1])
state.add_account(sys.argv[2])
count, delay = int(sys.argv[3]), float(sys.argv[4])
for _ in range(count):
    state.add_image(sys.argv[2], 9, steps=[(delay, 1)])
sim = Simulator(state, port=int(sys.argv[5])).start()
print(sim.url, time.time() + delay, flush=True)
threading.Event().wait()
"""


def account_burst(redis_url: str, receiver: Receiver, count: int, run_id: int) -> float:
    """Seconds from the moment ``count`` images of one account complete upstream (all at once, after the
    account was baselined with them generating) until the receiver has every ``image.completed``, through
    one `notifier run` with default settings."""
    receiver.reset()
    receiver.track_changes = True
    delay = 6.0 if count <= 200 else 10.0
    sim = subprocess.Popen([sys.executable, "-c", _SIM, TOKEN, ACCOUNT, str(count), str(delay), str(free_port())],
                           stdout=subprocess.PIPE, text=True, preexec_fn=die_with_parent)
    assert sim.stdout is not None
    url, completes_at = sim.stdout.readline().split()
    prefix = f"burst{run_id}"
    values = {"useapi_token": TOKEN, "useapi_base_url": url, "accounts": ACCOUNT, "redis_url": redis_url,
              "key_prefix": prefix, "queue_name": prefix, "http_port": 0, "log_level": "WARNING",
              "webhooks": json.dumps([{"url": receiver.url, "secret": SECRET}])}
    run = spawn(["run"], env_for(values))
    try:
        deadline = time.monotonic() + delay + 300
        done = 0
        while done < count and time.monotonic() < deadline:
            time.sleep(0.05)
            done = sum(key.endswith("|COMPLETED") for key in list(receiver.changes))
        last = max(at for key, at in list(receiver.changes.items()) if key.endswith("|COMPLETED"))
    finally:
        stop(run)
        stop(sim)  # type: ignore[arg-type]
        receiver.track_changes = False
    if done < count:
        return float("inf")
    return last - float(completes_at)
