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

import time

from rq.job import Job
from rq.queue import Queue
from rq.scheduler import RQScheduler
from rq.utils import current_timestamp

from notifier.delivery.policy import not_before_of, wait_left_s

PASS_S = 0.2
"""Seconds between two passes over the scheduled registry (RQ's: 1 s, its heartbeat interval)."""


class NotBeforeScheduler(RQScheduler):
    def work(self) -> None:
        """RQ 2.12's loop: a heartbeat (and the locks) every ``interval`` (1 s), a pass every ``PASS_S``."""
        self._install_signal_handlers()  # type: ignore[no-untyped-call]
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
