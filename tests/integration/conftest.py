from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from notifier.runtime.settings import Settings
from notifier.sandbox.simulator import Simulator
from tests.conftest import SECRET
from tests.support.processes import Proc
from tests.support.receiver import Receiver

A = "artist@example.com"


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
        return Stack(sim, rec, settings, real_redis, spawn)

    return build
