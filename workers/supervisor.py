"""``notifier run``: one poller and N delivery workers as child processes, restarted if they die.

SIGTERM or SIGINT is passed on to every child, which finish their current
cycle or delivery; children still alive after the grace period are killed.
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

from notifier.runtime.connection import connect
from notifier.runtime.procs import die_with_parent
from notifier.runtime.settings import Settings
from workers.ops import start_ops
from workers.signals import stop_event_on_signals

log = logging.getLogger(__name__)

_RESTART_DELAY_S = 1.0


def _spawn(role: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    # A session of its own: a terminal's Ctrl-C reaches only the supervisor, which then stops
    # each child once (a second signal would make RQ abort the delivery in progress).
    return subprocess.Popen(
        [sys.executable, "-m", "notifier.cli", role], env=env, start_new_session=True, preexec_fn=die_with_parent
    )


def main(settings: Settings) -> int:
    settings.require_token()
    roles = ["poller"] + ["worker"] * settings.worker_count
    # The children use the same Redis (embedded one included), write their metrics where this
    # process adds them up, and leave the HTTP endpoint to this process.
    metrics_dir = tempfile.mkdtemp(prefix="notifier-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    env = {**os.environ, "NOTIFIER_REDIS_URL": settings.redis_url, "NOTIFIER_HTTP_PORT": "0"}
    children = [_spawn(role, env) for role in roles]
    last_tick = [time.monotonic()]
    client = connect(settings)
    ops = start_ops(settings, client, "run", live=lambda: time.monotonic() - last_tick[0] < 10)
    stop = stop_event_on_signals("run", "stopping children")
    log.info("run: started a poller and %d delivery worker(s)", settings.worker_count)
    while not stop.wait(0.5):
        last_tick[0] = time.monotonic()
        for index, child in enumerate(children):
            code = child.poll()
            if code is not None:
                log.error("run: %s exited with %s; restarting it", roles[index], code)
                time.sleep(_RESTART_DELAY_S)
                children[index] = _spawn(roles[index], env)

    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + settings.delivery_job_timeout_s + 5
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("run: a child did not stop in time; killing it")
            child.kill()
            child.wait()
    if ops is not None:
        ops.stop()
    shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0
