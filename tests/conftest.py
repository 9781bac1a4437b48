from __future__ import annotations

import base64
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fakeredis
import hypothesis
import pytest
import redis

from notifier.runtime.settings import Settings
from notifier.sandbox.sim_state import SimState
from notifier.sandbox.simulator import Simulator
from tests.support.leaks import SCANNED
from tests.support.processes import Proc, settings_env
from tests.support.receiver import Receiver
from tests.support.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "user:1234-t0kenSECRETvalue"
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
_names = itertools.count()

# Property and model-based tests: bounded for CI by default; HYPOTHESIS_PROFILE=long runs them longer
# (`HYPOTHESIS_PROFILE=long scripts/test -k "fuzz or model"`).
_quiet = [hypothesis.HealthCheck.too_slow]
# CI explores the same examples every run (derandomize): a red CI names a change, not a lucky seed; the long
# profile explores at random.
hypothesis.settings.register_profile("ci", max_examples=150, stateful_step_count=30, deadline=None,
                                     suppress_health_check=_quiet, derandomize=True)
hypothesis.settings.register_profile("long", max_examples=5_000, stateful_step_count=60, deadline=None,
                                     suppress_health_check=_quiet)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The longest tests go first: parallel workers (scripts/test) then overlap them with the rest instead of
    # running them alone at the end. A stable sort keeps every other test in its place.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_sessionfinish(session: pytest.Session) -> None:
    # Under pytest-xdist each worker scans its own tests: it hands its counts to the controller.
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["secret_scan"] = dict(SCANNED)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    for what, count in getattr(node, "workeroutput", {}).get("secret_scan", {}).items():
        SCANNED[what] += count


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SCANNED["tests"]:
        terminalreporter.write_line(
            "secret scan: " + ", ".join(f"{count} {what}" for what, count in SCANNED.items()) + " scanned, "
            "no secret found (or the test failed)")


@pytest.fixture(autouse=True)
def _no_machine_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own NOTIFIER_* variables must not change what the tests see.
    for key in list(os.environ):
        if key.startswith("NOTIFIER_"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> Iterator[str]:
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    yield redis_server.url
    client.flushall()
    client.close()


@pytest.fixture
def real_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def fake_redis() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis()


@pytest.fixture
def make_settings() -> Callable[..., Settings]:
    """Settings that read no environment and no .env file, with test-friendly defaults."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "useapi_token": TOKEN,
            "useapi_base_url": "http://127.0.0.1:9/v2/pixverse",
            "key_prefix": f"t{next(_names)}",
            "poll_interval_s": 0.5,
            "http_port": 0,
            "api_port": 0,  # a test that wants the API and console asks for them
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make


@pytest.fixture
def simulator() -> Iterator[Callable[..., Simulator]]:
    started: list[Simulator] = []

    def start(token: str = TOKEN) -> Simulator:
        sim = Simulator(SimState(token)).start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def receiver() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def start(secret: str = SECRET) -> Receiver:
        rec = Receiver(secret)
        started.append(rec)
        return rec

    yield start
    for rec in started:
        rec.stop()


@pytest.fixture
def spawn() -> Iterator[Callable[..., Proc]]:
    """Start ``notifier <args>`` as a real process with the given NOTIFIER_* settings."""
    procs: list[Proc] = []

    def start(args: list[str], settings: Settings) -> Proc:
        proc = Proc(args, settings_env(settings), cwd=str(ROOT))
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.stop()
