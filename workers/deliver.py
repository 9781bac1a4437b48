"""The delivery worker process: an RQ worker that runs delivery jobs in-process.

``SimpleWorker`` (no fork per job) with one reused HTTP client: measured on
this kind of machine, a forking worker that builds a client per job delivers
about 14 webhooks/s, this about 300 to 500/s.

RQ's defaults would take up to ten minutes to notice a delivery whose worker
was killed. Here the started-registry entry expires ``worker_abandon_grace_s``
after the job timeout (SimpleWorker sends no heartbeat during a job, so it
must outlive the job timeout), the worker looks for such jobs every
``worker_maintenance_interval_s`` and never blocks on the queue longer than
the job timeout. An abandoned delivery is re-enqueued at once (not through
RQ's scheduler, whose lock a killed worker holds for a minute). With the
defaults a killed delivery runs again within 75 s of its start (see
:func:`recovery_bound_s`).

The scheduler the worker runs is :class:`workers.scheduler.NotBeforeScheduler`:
a retry is enqueued once its exact not-before time has passed, not at the start
of that second as RQ's own would.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from rq import SimpleWorker
from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.job import Job
from rq.serializers import JSONSerializer
from rq.utils import import_attribute

from notifier.delivery.context import DeliveryContext, install
from notifier.delivery.enqueue import CRASH_RETRY_INTERVAL_S, JOB_FUNCS, LEGACY_FUNCS, make_queue
from notifier.errors import DeliveryError, NotifierError
from notifier.ops.logs import rq_log_level
from notifier.runtime.app import connect
from notifier.runtime.redact import Redactor
from notifier.runtime.settings import Settings
from workers.ops import start_ops
from workers.scheduler import NotBeforeScheduler
from workers.signals import stop_event_on_signals

log = logging.getLogger(__name__)


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
    abandon_grace_s = 15
    stop_before_start: threading.Event | None = None
    """Set by a SIGTERM or SIGINT that came before RQ installed its own handlers."""
    redactor: Redactor | None = None
    """Masks secrets in the exception text RQ stores with a failed job (kept for weeks, shown by status)."""

    def handle_job_failure(self, job: Job, queue: Any, started_job_registry: Any = None, exc_string: str = "") -> None:
        if self.redactor is not None:
            exc_string = self.redactor.redact(exc_string)
        super().handle_job_failure(job, queue, started_job_registry=started_job_registry, exc_string=exc_string)

    def _install_signal_handlers(self) -> None:
        super()._install_signal_handlers()  # type: ignore[no-untyped-call]
        if self.stop_before_start is not None and self.stop_before_start.is_set():
            # The work loop checks this before taking its first job.
            self._stop_requested = True

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

    def get_heartbeat_ttl(self, job: Job) -> int:
        if job.timeout is None or job.timeout < 0:
            return int(super().get_heartbeat_ttl(job))
        return int(job.timeout) + self.abandon_grace_s


def worker_ttl_s(settings: Settings) -> int:
    # RQ blocks on the queue for worker_ttl - 15 s between maintenance passes.
    return settings.delivery_job_timeout_s + 15


def recovery_bound_s(settings: Settings) -> int:
    """Worst case from a killed worker's job start to the job's next run, with a worker running."""
    return (
        settings.delivery_job_timeout_s
        + settings.worker_abandon_grace_s
        + max(settings.worker_maintenance_interval_s, worker_ttl_s(settings) - 15)
        + CRASH_RETRY_INTERVAL_S
    )


def main(settings: Settings, *, burst: bool = False) -> int:
    early_stop = stop_event_on_signals("worker", "stopping once started")
    client = connect(settings)
    install(DeliveryContext.from_settings(settings))
    worker = DeliveryWorker(
        [make_queue(client, settings)],
        connection=client,
        serializer=JSONSerializer,
        job_class=DeliveryJob,
        worker_ttl=worker_ttl_s(settings),
        maintenance_interval=settings.worker_maintenance_interval_s,
    )
    worker.abandon_grace_s = settings.worker_abandon_grace_s
    worker.redactor = Redactor.from_settings(settings)
    worker.stop_before_start = early_stop
    if early_stop.is_set():
        return 0
    start_ops(settings, client, "worker", live=lambda: True)
    log.info("delivery worker started: queue %s, pid %d", settings.queue_name, os.getpid())
    worker.work(burst=burst, with_scheduler=True, logging_level=rq_log_level(settings))
    log.info("delivery worker stopped")
    return 0
