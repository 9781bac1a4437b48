"""Settings of delivery: timeouts, retries, concurrency and the worker processes."""

from __future__ import annotations

from pydantic import Field

from notifier.runtime.settings_base import SettingsGroup


class DeliverySettings(SettingsGroup):
    """How events are sent and retried."""

    delivery_timeout_s: float = Field(10.0, gt=0, le=60)
    """Timeout of one delivery request."""
    delivery_batch_size: int = Field(100, ge=1, le=1000)
    """Outbox entries a sink's dispatcher reads from Redis at a time (it sends up to ``delivery_concurrency``
    at once whatever this is); also the most events a batch job left by an older version sends."""
    delivery_concurrency: int = Field(100, ge=1, le=500)
    """Requests in flight to one webhook (its one running dispatcher), whatever the pages, polls or batches
    its events came in."""
    delivery_max_attempts: int = Field(10, ge=1, le=50)
    """Tries per delivery before it goes to the failed registry."""
    delivery_backoff_base_s: float = Field(2.0, ge=0.1, le=3600)
    """First retry delay; each further retry waits three times longer (with jitter)."""
    delivery_backoff_max_s: float = Field(3600.0, ge=1, le=86400)
    """Longest wait between two tries."""
    delivery_job_timeout_s: int = Field(30, ge=2, le=600)
    """RQ job timeout of one delivery; must exceed ``delivery_timeout_s``."""
    crash_retries: int = Field(3, ge=1, le=20)
    """Extra tries for a delivery whose worker died or that hit an unexpected error."""
    worker_count: int = Field(2, ge=1, le=64)
    """Delivery worker processes started by ``notifier run``."""
    worker_maintenance_interval_s: int = Field(5, ge=1, le=600)
    """How often a worker looks for deliveries abandoned by a dead worker."""
    worker_abandon_grace_s: int = Field(5, ge=1, le=600)
    """Seconds without a heartbeat from its worker (sent every fifth of this while a delivery runs)
    after which a running delivery counts as abandoned and runs again."""
    failed_ttl_s: int = Field(30 * 86400, ge=3600)
    """How long failed deliveries stay in the failed registry for ``notifier replay``."""
