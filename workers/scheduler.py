"""RQ's scheduler, except that a delivery stays scheduled until its exact not-before time.

RQ scores a scheduled job in whole seconds and, once a second, enqueues every job whose second has
begun: a retry due at 12:00:41.789 would be enqueued at 12:00:41.0 and start early, and sleeping the
rest in the job would hold its worker (a ``SimpleWorker`` runs one job at a time) while jobs due
earlier in that second wait behind it. This scheduler leaves such a job in the scheduled registry
until a pass after its ``not_before`` (see :mod:`notifier.delivery.policy`), and passes every
``PASS_S`` rather than every second, so a retry is enqueued about that long after its time at most;
jobs without a ``not_before`` are enqueued as RQ does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from multiprocessing.process import BaseProcess

from rq.job import Job
from rq.queue import Queue
from rq.scheduler import RQScheduler
from rq.utils import current_timestamp

from notifier.delivery.policy import not_before_of, wait_left_s

log = logging.getLogger(__name__)

PASS_S = 0.2
"""Seconds between two passes over the scheduled registry (RQ's: 1 s, its heartbeat interval)."""
STOP_RESEND_S = 0.5
"""While the scheduler child has not exited, its stop signal is sent again this often."""
STOP_KILL_AFTER_S = 10.0
"""A scheduler child still running this long after its first stop signal is killed (SIGKILL)."""


def stop_scheduler_process(process: BaseProcess | None, *, resend_s: float = STOP_RESEND_S,
                           kill_after_s: float = STOP_KILL_AFTER_S) -> None:
    """Stop the worker's scheduler child and wait for it, for a bounded time.

    RQ 2.12 sends one SIGTERM and joins with no timeout. A SIGTERM that reaches the child before it has
    installed its own handler is lost: CPython clears the signals that arrived before its after-fork
    clean-up, and until the scheduler's loop starts the child runs the handler it inherited (the worker's
    early-stop flag), which does not stop it. On a loaded machine the child is often not yet scheduled when
    a worker asked to stop just after starting sends it, and the worker then waited for it forever. Here the
    signal is sent again every ``resend_s`` until the child exits; one that still runs after ``kill_after_s``
    is killed (its scheduler lock then lapses by itself, a minute later: RQ's lock TTL).
    """
    if process is None or process.pid is None:
        return
    deadline = time.monotonic() + kill_after_s
    sent = 0
    while process.exitcode is None:
        with contextlib.suppress(OSError):  # already gone: join reaps it
            os.kill(process.pid, signal.SIGTERM)
        sent += 1
        left = deadline - time.monotonic()
        if left <= 0:
            log.warning("worker: the scheduler child (pid %d) did not stop within %.0f s; killed", process.pid,
                        kill_after_s)
            with contextlib.suppress(OSError):
                os.kill(process.pid, signal.SIGKILL)
            process.join()
            return
        process.join(min(resend_s, left))
    if sent > 1:
        log.info("worker: the scheduler child stopped after %d stop signals (it missed the first)", sent)


class NotBeforeScheduler(RQScheduler):
    def work(self) -> None:
        """RQ 2.12's loop: a heartbeat (and the locks) every ``interval`` (1 s), a pass every ``PASS_S``."""
        self._install_signal_handlers()  # type: ignore[no-untyped-call]
        if _stop_before_work:
            self._stop_requested = True  # a stop signal came between the fork and the line above
        self.register_birth()
        passes = max(1, round(self.interval / PASS_S))
        while not self._stop_requested:
            if self.should_reacquire_locks:
                self.acquire_locks()  # type: ignore[no-untyped-call]
            self.heartbeat()  # type: ignore[no-untyped-call]
            for _ in range(passes):
                self.enqueue_scheduled_jobs()
                time.sleep(self.interval / passes)
                if self._stop_requested:
                    break
        self.stop()  # type: ignore[no-untyped-call]

    def enqueue_scheduled_jobs(self) -> None:
        """RQ 2.12's pass, holding back the jobs whose not-before time has not come yet."""
        self._status = self.Status.WORKING
        if not self._scheduled_job_registries and self._acquired_locks:
            self.prepare_registries()
        for registry in self._scheduled_job_registries:
            job_ids = registry.get_jobs_to_schedule(current_timestamp())
            if not job_ids:
                continue
            queue = Queue(registry.name, connection=self.connection, serializer=self.serializer)
            jobs = Job.fetch_many(job_ids, connection=self.connection, serializer=self.serializer)
            now = time.time()
            with self.connection.pipeline() as pipeline:
                for job_id, job in zip(job_ids, jobs, strict=True):
                    if job is not None and wait_left_s(not_before_of(job.meta), now) > 0:
                        continue  # later in this second: a later pass
                    if job is not None:
                        queue._enqueue_job(job, pipeline=pipeline, at_front=job.should_enqueue_at_front())
                    registry.remove(job_id, pipeline=pipeline)
                pipeline.execute()
        self._status = self.Status.STARTED


_stop_before_work = False


def _note_stop_before_work(_signum: int, _frame: object) -> None:
    global _stop_before_work
    _stop_before_work = True


def listen_for_stop_in_child() -> None:
    """Run in the forked scheduler child (an after-fork hook): a SIGTERM or SIGINT that comes before its loop
    installs RQ's handlers stops it once the loop starts, instead of running the handler it inherited from
    the worker (the worker's early-stop flag, or RQ's worker shutdown when the scheduler is restarted)."""
    global _stop_before_work
    _stop_before_work = False
    signal.signal(signal.SIGTERM, _note_stop_before_work)
    signal.signal(signal.SIGINT, _note_stop_before_work)
