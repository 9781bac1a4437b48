"""``notifier run``: one poller and N delivery workers as child processes, restarted if they die.

A child that exits is restarted after a pause that doubles with each exit in a row (1 s up to 30 s;
back to 1 s once a child has run for a minute), with one log line per exit. Its multiprocess metric
files are merged into the dead-process totals and removed (``mark_process_dead``), so ``/metrics``
does not slow down with each restart.

The embedded Redis (no ``NOTIFIER_REDIS_URL``) is supervised the same way: restarted from its
append-only file if it dies; if it cannot be started again ``RESTART_GIVE_UP`` times in a row, the
run stops its children and exits 1.

SIGTERM or SIGINT is passed on to every child, which finish their current cycle or delivery; children
still alive after the grace period are killed. Should this process be killed, the kernel kills the
children (SIGKILL: a delivery cut short is sent again, the poller's writes are transactions).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from notifier.errors import NotifierError
from notifier.ops.metrics import retire_process
from notifier.runtime.connection import connect
from notifier.runtime.embedded_redis import EmbeddedRedis
from notifier.runtime.procs import dies_with_this_process
from notifier.runtime.settings import Settings
from workers.ops import start_console, start_ops
from workers.signals import stop_event_on_signals

log = logging.getLogger(__name__)

RESTART_MIN_S = 1.0
RESTART_MAX_S = 30.0
STABLE_AFTER_S = 60.0
"""A child that ran this long before exiting is restarted after ``RESTART_MIN_S`` again."""
RESTART_GIVE_UP = 5
"""Failed starts in a row of the embedded Redis after which the run exits 1."""


def restart_delay_s(exits_in_a_row: int) -> float:
    """Pause before restarting a child after its ``exits_in_a_row``-th quick exit (1, 2, 4, … 30 s). Pure."""
    return float(min(RESTART_MAX_S, RESTART_MIN_S * 2.0 ** max(0, exits_in_a_row - 1)))


def _spawn(role: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    # A session of its own: a terminal's Ctrl-C reaches only the supervisor, which then stops
    # each child once (a second signal would make RQ abort the delivery in progress).
    return subprocess.Popen(
        [sys.executable, "-m", "notifier.cli", role], env=env, start_new_session=True,
        preexec_fn=dies_with_this_process(signal.SIGKILL),
    )


@dataclass
class Child:
    role: str
    process: subprocess.Popen[bytes] | None
    started_at: float
    exits_in_a_row: int = 0
    restart_at: float | None = None


class Children:
    """The poller and workers: reaped, counted out of the metrics, restarted with back-off."""

    def __init__(self, roles: list[str], env: dict[str, str], metrics_dir: str) -> None:
        self._env = env
        self._metrics_dir = metrics_dir
        now = time.monotonic()
        self.children = [Child(role, _spawn(role, env), now) for role in roles]

    def tick(self, now: float) -> None:
        for child in self.children:
            if child.process is not None:
                code = child.process.poll()
                if code is None:
                    continue
                self._reap(child, code, now)
            if child.restart_at is not None and now >= child.restart_at:
                child.process, child.started_at, child.restart_at = _spawn(child.role, self._env), now, None

    def _reap(self, child: Child, code: int, now: float) -> None:
        assert child.process is not None
        pid = child.process.pid
        retire_process(pid, self._metrics_dir)
        child.exits_in_a_row = 1 if now - child.started_at >= STABLE_AFTER_S else child.exits_in_a_row + 1
        delay = restart_delay_s(child.exits_in_a_row)
        how = f"signal {-code}" if code < 0 else f"code {code}"
        log.error("run: %s (pid %d) exited with %s after %.0f s; restarting it in %.0f s (%d exit(s) in a row)",
                  child.role, pid, how, now - child.started_at, delay, child.exits_in_a_row)
        child.process, child.restart_at = None, now + delay

    def stop(self, grace_s: float) -> None:
        running = [c.process for c in self.children if c.process is not None and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("run: a child did not stop in time; killing it")
                process.kill()
                process.wait()


class RedisWatch:
    """Restarts the embedded Redis when it dies; gives up after ``RESTART_GIVE_UP`` failed starts in a row."""

    def __init__(self, server: EmbeddedRedis) -> None:
        self._server = server
        self._failures = 0
        self._restart_at: float | None = None

    def tick(self, now: float) -> bool:
        """False once the embedded Redis cannot be brought back."""
        if self._restart_at is None:
            code = self._server.exit_code()
            if code is None:
                return True
            self._restart_at = now + restart_delay_s(self._failures + 1)
            log.error("run: the embedded Redis exited with %s; restarting it from its append-only file", code)
        if now < self._restart_at:
            return True
        try:
            self._server.restart()
        except NotifierError as exc:
            self._failures += 1
            if self._failures >= RESTART_GIVE_UP:
                log.critical("run: the embedded Redis could not be started %d times in a row (%s); stopping",
                             self._failures, exc)
                return False
            self._restart_at = time.monotonic() + restart_delay_s(self._failures + 1)
            log.error("run: the embedded Redis did not start again (%s); next try in %.0f s", exc,
                      self._restart_at - time.monotonic())
            return True
        log.warning("run: the embedded Redis is back")
        self._failures, self._restart_at = 0, None
        return True


def main(settings: Settings, *, embedded: EmbeddedRedis | None = None) -> int:
    settings.require_token()
    roles = ["poller"] + ["worker"] * settings.worker_count
    # The children use the same Redis (embedded one included), write their metrics where this
    # process adds them up, and leave the HTTP endpoint to this process.
    metrics_dir = tempfile.mkdtemp(prefix="notifier-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    env = {**os.environ, "NOTIFIER_REDIS_URL": settings.redis_url, "NOTIFIER_HTTP_PORT": "0",
           "NOTIFIER_API_PORT": "0"}
    children = Children(roles, env, metrics_dir)
    redis_watch = RedisWatch(embedded) if embedded is not None else None
    last_tick = [time.monotonic()]
    client = connect(settings)
    ops = start_ops(settings, client, "run", live=lambda: time.monotonic() - last_tick[0] < 10)
    console = start_console(settings, client)
    stop = stop_event_on_signals("run", "stopping children")
    log.info("run: started a poller and %d delivery worker(s)", settings.worker_count)
    code = 0
    while not stop.wait(0.5):
        last_tick[0] = now = time.monotonic()
        if redis_watch is not None and not redis_watch.tick(now):
            code = 1
            break
        children.tick(now)

    children.stop(settings.delivery_job_timeout_s + 5)
    if ops is not None:
        ops.stop()
    if console is not None:
        console.stop()
    shutil.rmtree(metrics_dir, ignore_errors=True)
    return code
