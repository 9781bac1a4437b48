"""The delivery worker process: an RQ worker that runs delivery jobs in-process.

``SimpleWorker`` (no fork per job) with one reused HTTP client: measured on
this kind of machine, a forking worker that builds a client per job delivers
about 14 webhooks/s, this about 300 to 500/s.

A killed delivery runs again within seconds. RQ's ``SimpleWorker`` sends no
heartbeat during a job, so its started-registry entry would have to outlive
the job timeout; here a small thread refreshes it every fifth of
``worker_abandon_grace_s`` while a job runs, so the entry of a job whose
worker died (SIGKILL, OOM) expires ``worker_abandon_grace_s`` after the last
sign of life. Every worker looks for such jobs every
``worker_maintenance_interval_s`` (and never blocks on the queue for longer)
and re-enqueues them at once (not through RQ's scheduler). With the defaults
a killed delivery runs again within 12 s (see :func:`recovery_bound_s`).

Redis going away does not stop the worker: RQ 2.12 quits its work loop on a
Redis error outside its dequeue wait (after each job, in maintenance); here
every such call waits for Redis to answer again and goes on. A worker that
stops for any other reason than a stop request exits non-zero, so the
supervisor restarts it.

The scheduler the worker runs is :class:`workers.scheduler.NotBeforeScheduler`:
a retry is enqueued once its exact not-before time has passed, not at the start
of that second as RQ's own would.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
import time
from typing import Any

import redis
from rq import SimpleWorker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.exceptions import StopRequested
from rq.job import Job
from rq.queue import Queue
from rq.serializers import JSONSerializer
from rq.utils import import_attribute

from notifier.delivery.context import DeliveryContext, install
from notifier.delivery.enqueue import CRASH_RETRY_INTERVAL_S, JOB_FUNCS, LEGACY_FUNCS, kick, make_queue
from notifier.errors import DeliveryError, NotifierError
from notifier.ops.logs import rq_log_level
from notifier.runtime.app import connect
from notifier.runtime.procs import dies_with_this_process
from notifier.runtime.redact import Redactor
from notifier.runtime.settings import Settings
from workers.executions import LenientExecutionRegistry
from workers.ops import start_ops
from workers.scheduler import NotBeforeScheduler, listen_for_stop_in_child, stop_scheduler_process
from workers.signals import stop_event_on_signals

log = logging.getLogger(__name__)

REDIS_WAIT_MAX_S = 2.0
"""Longest pause between two tries to reach Redis again: deliveries resume within this of its return."""


class JobRefused(NotifierError):
    """A job that is not one of the notifier's deliveries: filed as failed, never run."""


class DeliveryJob(Job):
    """A delivery job; one enqueued by an older version still names its function's old module.

    Whoever can write to Redis can enqueue a job naming any importable function, or carrying RQ
    callbacks (more function names) or RQ webhooks (URLs RQ would call). Only the notifier's own job
    functions run: anything else is refused before it runs, logged, and filed as failed without
    retries. The notifier uses no callbacks or RQ webhooks, so none ever run.
    """

    def refusal(self) -> str | None:
        """Why this job must not run (None: it may)."""
        name = LEGACY_FUNCS.get(self.func_name or "", self.func_name)
        if name not in JOB_FUNCS:
            return f"it names {name!r}, not one of the notifier's job functions"
        if self.instance is not None:
            return "it names a method of an object"
        if self._success_callback_name or self._failure_callback_name or self._stopped_callback_name:
            return "it carries callbacks"
        if self.webhooks:
            return "it carries RQ webhooks"
        return None

    @property
    def func(self) -> Any:
        problem = self.refusal()
        if problem is not None:
            self.retries_left = 0  # filed as failed at once
            log.error("refused job %r: %s; filed as failed without running it", self.id, problem)
            raise JobRefused(f"refused: {problem}")
        return import_attribute(LEGACY_FUNCS.get(self.func_name or "", self.func_name or ""))

    @property
    def execution_registry(self) -> LenientExecutionRegistry:
        return LenientExecutionRegistry(self.id, connection=self.connection)

    @property
    def success_callback(self) -> None:
        return None

    @property
    def failure_callback(self) -> None:
        return None

    @property
    def stopped_callback(self) -> None:
        return None

    def send_webhooks(self, status: Any, *, exc_string: str | None = None) -> None:
        return None


class DeliveryWorker(SimpleWorker):
    abandon_grace_s = 5
    stop_before_start: threading.Event | None = None
    """Set by a SIGTERM or SIGINT that came before RQ installed its own handlers."""
    redactor: Redactor | None = None
    """Masks secrets in the exception text RQ stores with a failed job (kept for weeks, shown by status)."""

    def handle_job_failure(self, job: Job, queue: Any, started_job_registry: Any = None, exc_string: str = "") -> None:
        if self.redactor is not None:
            exc_string = self.redactor.redact(exc_string)
        super().handle_job_failure(job, queue, started_job_registry=started_job_registry, exc_string=exc_string)
    stop_signalled = False
    """Set by SIGTERM or SIGINT: the work loop ended because it was asked to."""

    def _install_signal_handlers(self) -> None:
        super()._install_signal_handlers()  # type: ignore[no-untyped-call]
        if self.stop_before_start is not None and self.stop_before_start.is_set():
            # The work loop checks this before taking its first job.
            self._stop_requested = True

    def request_stop(self, signum: int, frame: Any) -> None:
        self.stop_signalled = True
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]

    def handle_exception(self, job: Job, *exc_info: Any) -> None:
        # A refused delivery was logged by the job, once and without a traceback; RQ would log
        # it again with one. Anything unexpected still gets RQ's full report.
        if isinstance(exc_info[1], DeliveryError | JobRefused):
            return
        super().handle_exception(job, *exc_info)

    def _start_scheduler(
        self,
        burst: bool = False,
        logging_level: str | None = "INFO",
        date_format: str = DEFAULT_LOGGING_DATE_FORMAT,
        log_format: str = DEFAULT_LOGGING_FORMAT,
    ) -> None:
        # RQ 2.12's own, with NotBeforeScheduler in place of RQScheduler.
        self.scheduler = NotBeforeScheduler(
            self.queues,
            connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format,
            log_format=log_format,
            serializer=self.serializer,
        )
        self.scheduler.acquire_locks()  # type: ignore[no-untyped-call]
        if not self.scheduler.acquired_locks:
            return
        if not burst:
            self.scheduler.start()  # type: ignore[no-untyped-call]
            return
        try:
            self.scheduler.register_birth()
            self.scheduler.enqueue_scheduled_jobs()
        finally:
            self.scheduler.release_locks()  # type: ignore[no-untyped-call]
            self.scheduler.register_death()

    def stop_scheduler(self) -> None:
        # RQ's sends one SIGTERM, which a child not yet listening loses, and then waits for it forever.
        stop_scheduler_process(self.scheduler._process if self.scheduler is not None else None)

    def get_heartbeat_ttl(self, job: Job) -> int:
        if job.timeout is None or job.timeout < 0:
            return int(super().get_heartbeat_ttl(job))
        return self.abandon_grace_s

    # --- Redis going away: wait for it instead of quitting -------------------------------------------

    def wait_for_redis(self, error: Exception, what: str) -> None:
        """Block until Redis answers again (or a stop is requested: then StopRequested)."""
        started = time.monotonic()
        log.warning("worker: Redis unavailable during %s (%s); waiting for it", what, type(error).__name__)
        pause = 0.25
        while True:
            if self._stop_requested:
                raise StopRequested()
            time.sleep(pause)
            try:
                self.connection.ping()
            except (redis.RedisError, OSError):
                pause = min(REDIS_WAIT_MAX_S, pause * 2)
                continue
            log.info("worker: Redis answers again after %.1f s", time.monotonic() - started)
            return

    def check_for_suspension(self, burst: bool) -> None:
        while True:
            try:
                return super().check_for_suspension(burst)  # type: ignore[no-any-return]
            except redis.RedisError as exc:
                self.wait_for_redis(exc, "the suspension check")

    def run_maintenance_tasks(self) -> None:
        try:
            super().run_maintenance_tasks()  # type: ignore[no-untyped-call]
        except redis.RedisError as exc:
            self.wait_for_redis(exc, "maintenance")  # the next pass is due again at once

    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        while True:
            try:
                return super().heartbeat(timeout, pipeline)  # type: ignore[no-any-return]
            except redis.RedisError as exc:
                if pipeline is not None or threading.current_thread() is not threading.main_thread():
                    raise
                self.wait_for_redis(exc, "the heartbeat")

    def dequeue_job_and_maintain_ttl(self, timeout: int | None, max_idle_time: int | None = None) -> Any:
        # RQ retries connection errors here itself (waiting at most max_connection_wait_time), not timeouts.
        while True:
            try:
                return super().dequeue_job_and_maintain_ttl(timeout, max_idle_time)
            except redis.RedisError as exc:
                self.wait_for_redis(exc, "the dequeue")

    def execute_job(self, job: Job, queue: Queue) -> None:
        beat = _JobHeartbeat(self, job)
        beat.start()
        try:
            super().execute_job(job, queue)
        except redis.RedisError as exc:
            # The job's outcome could not be recorded: it stays "started" and, its heartbeat gone, is found
            # abandoned and run again (at least once; receivers deduplicate on webhook-id).
            beat.stop()
            self.wait_for_redis(exc, f"job {job.id}")
        finally:
            beat.stop()

    def handle_execution_ended(self, job: Job, queue: Queue, heartbeat_ttl: int) -> None:
        _JobHeartbeat.stop_current(self)
        super().handle_execution_ended(job, queue, heartbeat_ttl)


class _JobHeartbeat:
    """Keeps a running job's started-registry entry alive while the worker process lives."""

    def __init__(self, worker: DeliveryWorker, job: Job) -> None:
        self._worker = worker
        self._job = job
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-heartbeat", daemon=True)
        # Five beats per grace period: a loaded machine can hold a thread back for a few seconds.
        self._interval_s = max(0.3, worker.abandon_grace_s / 5)

    def start(self) -> None:
        self._worker.__dict__["_job_heartbeat"] = self
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    @staticmethod
    def stop_current(worker: DeliveryWorker) -> None:
        beat = worker.__dict__.get("_job_heartbeat")
        if isinstance(beat, _JobHeartbeat):
            beat.stop()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            if self._worker.execution is None:
                continue
            try:
                self._worker.maintain_heartbeats(self._job)
            except (redis.RedisError, OSError) as exc:
                log.debug("job heartbeat failed: %s", exc)


def worker_ttl_s(settings: Settings) -> int:
    # RQ blocks on the queue for worker_ttl - 15 s between maintenance passes.
    return settings.worker_maintenance_interval_s + 15


def recovery_bound_s(settings: Settings) -> int:
    """Worst case from a killed worker's last heartbeat to the job's next run, with a worker running."""
    return (
        settings.worker_abandon_grace_s + 1  # the registry's scores are whole seconds
        + settings.worker_maintenance_interval_s
        + CRASH_RETRY_INTERVAL_S
        + 1  # dequeue
    )


@functools.cache
def _scheduler_dies_with_worker() -> None:
    # RQ's scheduler runs in a forked child, which keeps the scheduler lock for a minute after it is gone:
    # it gets SIGTERM (and releases the lock) when this process dies, even by SIGKILL. Its stop handler goes
    # first: a SIGTERM it gets before its loop starts (this one included) must stop it, not be lost.
    os.register_at_fork(after_in_child=listen_for_stop_in_child)
    os.register_at_fork(after_in_child=dies_with_this_process(signal.SIGTERM))


def _resume_outboxes(context: DeliveryContext) -> None:
    """A dispatcher killed more often than its crash retries allow leaves its outbox to the next dispatch
    job: a (re)started worker makes one for every sink with events waiting."""
    queue = make_queue(context.store, context.settings)
    for name in context.sinks:
        try:
            if context.outbox.length(name):
                kick(queue, name, settings_timeout_s=context.settings.delivery_job_timeout_s,
                     crash_retries=context.settings.crash_retries)
        except redis.RedisError as exc:
            log.warning("worker: could not look at the outbox of %s (%s)", name, type(exc).__name__)


def main(settings: Settings, *, burst: bool = False) -> int:
    early_stop = stop_event_on_signals("worker", "stopping once started")
    _scheduler_dies_with_worker()
    client = connect(settings)
    context = DeliveryContext.from_settings(settings)
    install(context)
    worker = DeliveryWorker(
        [make_queue(client, settings)],
        connection=client,
        serializer=JSONSerializer,
        job_class=DeliveryJob,
        worker_ttl=worker_ttl_s(settings),
        maintenance_interval=settings.worker_maintenance_interval_s,
    )
    worker.max_connection_wait_time = REDIS_WAIT_MAX_S
    worker.abandon_grace_s = settings.worker_abandon_grace_s
    worker.redactor = Redactor.from_settings(settings)
    worker.stop_before_start = early_stop
    if early_stop.is_set():
        return 0
    start_ops(settings, client, "worker", live=lambda: True)
    _resume_outboxes(context)
    log.info("delivery worker started: queue %s, pid %d", settings.queue_name, os.getpid())
    try:
        worker.work(burst=burst, with_scheduler=True, logging_level=rq_log_level(settings))
    except redis.RedisError as exc:
        # Only the clean-up after a stop talks to Redis outside the loop: the stop was asked for.
        log.warning("worker: could not record its stop in Redis (%s)", type(exc).__name__)
    if worker.stop_signalled or worker._stop_requested or early_stop.is_set() or burst:
        log.info("delivery worker stopped")
        return 0
    # RQ leaves its loop on an unexpected error ("unhandled exception, quitting"): say so with the exit code.
    log.error("worker: the work loop ended without a stop request; exiting with 1")
    return 1
