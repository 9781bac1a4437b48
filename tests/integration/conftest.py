from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import pytest
import redis

from notifier.runtime.settings import Settings
from notifier.sandbox.simulator import Simulator
from tests.conftest import SECRET
from tests.support import processes
from tests.support.leaks import SCANNED, find_leaks, redis_texts, secrets_in_env
from tests.support.processes import Proc, settings_env
from tests.support.receiver import Receiver

A = "artist@example.com"
_BUILT: list[Settings] = []


@dataclass
class Stack:
    sim: Simulator
    receiver: Receiver
    settings: Settings
    redis: redis.Redis
    start: Callable[[list[str], Settings], Proc]

    def spawn(self, args: list[str]) -> Proc:
        """``notifier <args>`` as a real process, with the stack's settings as they are now."""
        return self.start(args, self.settings)


@pytest.fixture
def stack(
    simulator: Callable[..., Simulator],
    receiver: Callable[..., Receiver],
    make_settings: Callable[..., Settings],
    spawn: Callable[..., Proc],
    redis_url: str,
    real_redis: redis.Redis,
) -> Callable[..., Stack]:
    """A simulated upstream with one account, a verifying receiver, and settings wiring them to a real Redis."""

    def build(**overrides: Any) -> Stack:
        sim = simulator()
        sim.state.add_account(A)
        rec = receiver()
        values: dict[str, Any] = {
            "useapi_base_url": sim.url,
            "redis_url": redis_url,
            "accounts": [A],
            "webhook_url": rec.url,
            "webhook_secret": SECRET,
            "poll_interval_s": 0.5,
            "delivery_backoff_base_s": 1.0,
            "delivery_timeout_s": 2.0,
            "delivery_job_timeout_s": 4,
            "worker_maintenance_interval_s": 1,
            "worker_abandon_grace_s": 1,
        }
        values.update(overrides)
        settings = make_settings(**values)
        _BUILT.append(settings)
        return Stack(sim, rec, settings, real_redis, spawn)

    return build


def _status_text(settings: Settings) -> str:
    from notifier.ops.report import collect_status
    from notifier.runtime.connection import connect

    if not settings.redis_url:
        return ""  # an embedded Redis lives and dies with its run: nothing is left to ask
    client = connect(settings)
    try:
        return json.dumps(asdict(collect_status(settings, client)))
    except (redis.RedisError, OSError):
        return ""
    finally:
        client.close()


@pytest.fixture(autouse=True)
def no_secret_leaves(redis_url: str, real_redis: redis.Redis) -> Iterator[None]:
    """After each test, with its processes stopped and before its Redis is emptied: no secret of the test's
    settings in any log those processes wrote, anywhere in Redis (the failed registry and its exception
    texts, job data, account state), or in what `notifier status` shows."""
    _BUILT.clear()
    first = len(processes.STARTED)
    yield
    procs = processes.STARTED[first:]
    envs = [proc.env for proc in procs] + [settings_env(settings) for settings in _BUILT]
    secrets = set().union(*(secrets_in_env(env) for env in envs)) if envs else set()
    if not secrets:
        return
    texts = [(f"log of `notifier {' '.join(proc.args)}`", proc.output()) for proc in procs]
    texts += list(redis_texts(real_redis))
    texts += [("notifier status", _status_text(settings)) for settings in _BUILT]
    SCANNED["tests"] += 1
    SCANNED["logs"] += len(procs)
    SCANNED["redis values"] += len(texts) - len(procs) - len(_BUILT)
    SCANNED["statuses"] += len(_BUILT)
    leaks = find_leaks(texts, secrets)
    assert not leaks, "secrets written down: " + "; ".join(leaks)
