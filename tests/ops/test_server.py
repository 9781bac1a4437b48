"""The ops endpoint holds up: idle and slow clients cost no threads, /metrics can want a token, gauges are cached."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import fakeredis
import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from notifier.ops.metrics import RedisStateCollector
from notifier.ops.pool_http import PooledHTTPServer
from notifier.ops.server import OpsServer
from notifier.state.keys import Keys


@pytest.fixture
def ops() -> Iterator[Callable[..., OpsServer]]:
    started: list[OpsServer] = []

    def start(**kwargs: Any) -> OpsServer:
        server = OpsServer("127.0.0.1", 0, live=lambda: True, ready=lambda: [], registry=CollectorRegistry(),
                           **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def connect_idle(port: int, count: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]


def test_500_idle_connections_leave_it_answering_healthz(ops: Callable[..., OpsServer]) -> None:
    server = ops()
    url = f"http://127.0.0.1:{server.port}/healthz"
    with httpx.Client(timeout=2) as client:
        assert client.get(url).status_code == 200
        threads_before = threading.active_count()
        idle = connect_idle(server.port, 500)
        try:
            time.sleep(0.2)
            started = time.monotonic()
            answers = [client.get(url) for _ in range(20)]
            latency = (time.monotonic() - started) / len(answers)
            threads = threading.active_count()
        finally:
            for sock in idle:
                sock.close()
    assert all(answer.status_code == 200 for answer in answers)
    assert latency < 0.5, latency
    assert threads - threads_before <= 4, (threads_before, threads)  # the pool, not a thread per connection
    print(f"\n500 idle connections: {threads} threads in the process ({threads_before} before), "
          f"/healthz in {latency * 1000:.1f} ms")


def test_an_incomplete_request_is_closed_after_the_timeout_and_blocks_nobody() -> None:
    from http.server import BaseHTTPRequestHandler

    class Hello(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"hi")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = PooledHTTPServer("127.0.0.1", 0, Hello, name="t", workers=1, request_timeout_s=0.5)
    server.start()
    try:
        dribblers = connect_idle(server.port, 5)
        for sock in dribblers:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # never finished
        # One worker thread, five half-sent requests: a whole request is still answered at once.
        assert httpx.get(f"http://127.0.0.1:{server.port}/", timeout=1).text == "hi"
        time.sleep(1.0)
        for sock in dribblers:
            sock.settimeout(1)
            assert sock.recv(10) == b""  # closed by the server
            sock.close()
        oversized = socket.create_connection(("127.0.0.1", server.port))
        oversized.sendall(b"GET / HTTP/1.0\r\nX: " + b"a" * 10_000)
        oversized.settimeout(1)
        assert oversized.recv(10) == b""
        oversized.close()
    finally:
        server.stop()


def test_past_the_cap_the_oldest_waiting_connection_makes_room() -> None:
    from http.server import BaseHTTPRequestHandler

    server = PooledHTTPServer("127.0.0.1", 0, BaseHTTPRequestHandler, name="t", workers=1, max_connections=10,
                              request_timeout_s=30)
    server.start()
    try:
        first = connect_idle(server.port, 10)
        later = connect_idle(server.port, 5)
        time.sleep(0.3)
        closed = 0
        for sock in first:
            sock.settimeout(0.5)
            with contextlib.suppress(TimeoutError):
                closed += sock.recv(1) == b""
        assert closed == 5
        for sock in first + later:
            sock.close()
    finally:
        server.stop()


def test_metrics_want_the_token_when_one_is_set(ops: Callable[..., OpsServer]) -> None:
    server = ops(metrics_token="m3trics-t0ken")
    base = f"http://127.0.0.1:{server.port}"
    assert httpx.get(f"{base}/metrics").status_code == 401
    assert httpx.get(f"{base}/metrics").headers["www-authenticate"].startswith("Bearer")
    assert httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer m3trics-t0ken"}).status_code == 200
    assert httpx.get(f"{base}/healthz").status_code == 200 and httpx.get(f"{base}/readyz").status_code == 200
    assert httpx.get(f"http://127.0.0.1:{ops().port}/metrics").status_code == 200  # no token set: open


def test_the_endpoint_binds_loopback_by_default(make_settings: Callable[..., Any], fake_redis: Any) -> None:
    from notifier.runtime.settings import Settings
    from workers.ops import start_ops

    assert Settings.model_fields["http_host"].default == "127.0.0.1"
    server = start_ops(make_settings(http_port=0), fake_redis, "run", live=lambda: True)
    assert server is None  # port 0: off
    from tests.support.redis_server import free_port

    server = start_ops(make_settings(http_port=free_port(), metrics_token="m3trics-t0ken"), fake_redis, "run",
                       live=lambda: True)
    assert server is not None
    try:
        assert server._http.host == "127.0.0.1"
        assert httpx.get(f"http://127.0.0.1:{server.port}/metrics").status_code == 401
    finally:
        server.stop()


def test_redis_gauges_are_read_once_per_cache_period() -> None:
    store = fakeredis.FakeRedis()
    keys = Keys("t")
    store.zadd(keys.accounts(), {"a@x.com": 1})
    store.hset(keys.tracked("a@x.com"), "img1", '["GENERATING", 0]')
    now = [100.0]
    collector = RedisStateCollector(store, keys, "q", cache_s=5, clock=lambda: now[0])
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    assert b'notifier_tracked_images{status="GENERATING"} 1.0' in generate_latest(registry)
    store.hset(keys.tracked("a@x.com"), "img2", '["GENERATING", 0]')
    now[0] += 4
    assert b'notifier_tracked_images{status="GENERATING"} 1.0' in generate_latest(registry)  # cached
    now[0] += 1
    assert b'notifier_tracked_images{status="GENERATING"} 2.0' in generate_latest(registry)
