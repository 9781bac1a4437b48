"""`notifier run`: a poller and workers under one supervisor that leaves nothing behind."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from tests.integration.conftest import A, Stack
from tests.support.processes import alive, children_of, descendants_of, wait_until

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL])
def test_run_delivers_and_stops_with_its_children(stack: Callable[..., Stack], stop_signal: int) -> None:
    s = stack(worker_count=2)
    run = s.spawn(["run"])
    wait_until(lambda: len(children_of(run.popen.pid)) == 3, 20, "a poller and two workers")
    children = children_of(run.popen.pid)
    s.sim.state.add_image(A, 5)  # the first poll may already have seen it: then nothing is sent
    wait_until(lambda: s.redis.exists(f"{s.settings.key_prefix}:acct:{A}:meta"), 20, "the first poll")
    image = s.sim.state.add_image(A, 1)
    s.receiver.wait_for(lambda got: any(r.payload and r.payload["data"]["image_id"] == image for r in got), 20)

    os.kill(run.popen.pid, stop_signal)
    code = run.wait(40)
    assert code == (0 if stop_signal == signal.SIGTERM else -signal.SIGKILL)
    wait_until(lambda: not any(alive(pid) for pid in children), 40, "the children to exit")


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _role(parent: int, role: str) -> list[int]:
    return [pid for pid in children_of(parent) if _cmdline(pid).endswith(f"notifier.cli {role} ")]


def test_run_restarts_a_dead_child_with_back_off_and_retires_its_metrics(stack: Callable[..., Stack]) -> None:
    s = stack(worker_count=1)
    run = s.spawn(["run"])
    wait_until(lambda: len(_role(run.popen.pid, "poller")) == 1, 20, "a poller")
    metrics_dir = Path(_environ(_role(run.popen.pid, "poller")[0])["PROMETHEUS_MULTIPROC_DIR"])
    killed: list[int] = []
    for _ in range(3):
        wait_until(lambda: len(_role(run.popen.pid, "poller")) == 1
                   and list(metrics_dir.glob(f"counter_{_role(run.popen.pid, 'poller')[0]}.db")), 20,
                   "a poller that counted its requests")
        pid = _role(run.popen.pid, "poller")[0]
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)
        wait_until(lambda: killed[-1] not in children_of(run.popen.pid), 10, "the supervisor to reap it")
    wait_until(lambda: run.output().count("restarting it in") >= 3, 20, "three restarts")
    out = run.output()
    delays = [line.split("restarting it in ")[1].split(" s")[0] for line in out.splitlines()
              if "restarting it in" in line]
    assert delays == ["1", "2", "4"], out
    assert "Traceback" not in out
    for pid in killed:
        assert not list(metrics_dir.glob(f"*_{pid}.db")), f"files of dead poller {pid} left behind"
    assert (metrics_dir / "counter_retired.db").exists()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_sigkill_of_run_mid_delivery_leaves_no_process_behind(stack: Callable[..., Stack]) -> None:
    s = stack(worker_count=2, delivery_timeout_s=20.0, delivery_job_timeout_s=30)
    run = s.spawn(["run"])
    wait_until(lambda: len(children_of(run.popen.pid)) == 3, 20, "a poller and two workers")
    wait_until(lambda: s.redis.exists(f"{s.settings.key_prefix}:acct:{A}:meta"), 20, "the first poll")
    s.receiver.hang.set()
    s.sim.state.add_image(A, 1)
    assert s.receiver.held.wait(30), "the delivery never reached the receiver"
    everyone = descendants_of(run.popen.pid)  # workers, their RQ scheduler processes, the poller
    os.kill(run.popen.pid, signal.SIGKILL)
    run.wait(10)
    wait_until(lambda: not any(alive(pid) for pid in everyone), 10, "every process of the run to exit")


def test_run_restarts_its_embedded_redis(stack: Callable[..., Stack]) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="nr-"))
    s = stack(worker_count=1, redis_url="", data_dir=data_dir)
    run = s.spawn(["run"])
    socket = data_dir / "redis.sock"
    wait_until(socket.exists, 30, "the embedded Redis")
    client = redis.Redis(unix_socket_path=str(socket))
    wait_until(lambda: client.exists(f"{s.settings.key_prefix}:acct:{A}:meta"), 30, "the first poll")
    first = s.sim.state.add_image(A, 1)
    s.receiver.wait_for(lambda got: any(r.payload and r.payload["data"]["image_id"] == first for r in got), 30)
    server_pid = int((data_dir / "redis.pid").read_text())
    os.kill(server_pid, signal.SIGKILL)
    wait_until(lambda: (data_dir / "redis.pid").exists() and int((data_dir / "redis.pid").read_text()) != server_pid
               and _pings(client), 30, "the embedded Redis to be restarted")
    second = s.sim.state.add_image(A, 1)
    s.receiver.wait_for(lambda got: any(r.payload and r.payload["data"]["image_id"] == second for r in got), 30)
    assert run.popen.poll() is None
    assert "the embedded Redis exited" in run.output()
    client.close()
    shutil.rmtree(data_dir, ignore_errors=True)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
