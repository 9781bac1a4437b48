"""The HTTP API's request and answer shapes: they make its OpenAPI 3.1 document (``/api/openapi.json``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Outcome = Literal["delivered", "retrying", "failed"]
ID_PATTERN = r"^[A-Za-z0-9_.:@+=-]{1,300}$"
"""Event, item and sink ids: what the notifier makes (image ids hold ':', '@', '-', '+')."""


def epoch(moment: datetime) -> float:
    """A datetime as epoch seconds; one without a time zone is UTC."""
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()


class Problem(BaseModel):
    detail: str = Field(description="What was wrong, in one sentence.")


class SinkOutcome(BaseModel):
    outcome: Outcome | None = None
    at: float | None = Field(None, description="When (epoch seconds).")
    status: int | None = Field(None, description="HTTP status answered, if any.")
    error_class: str | None = None
    error: str | None = Field(None, description="Redacted.")


class EventSummary(BaseModel):
    id: str
    type: str | None = None
    item_id: str | None = Field(None, description="The image's (or video's) id.")
    medium: str | None = Field(None, description="image, video, ...: the type's first word.")
    account: str | None = None
    source: str | None = None
    detected_at: float | None = Field(None, description="When the change was detected (epoch seconds).")
    outcome: str = Field(description="failed if a sink's delivery failed for good, else retrying, else delivered.")
    sinks: dict[str, SinkOutcome] = Field(description="Each sink's last outcome.")


class EventPage(BaseModel):
    events: list[EventSummary]
    next_cursor: int | None = Field(description="Pass as `cursor` for the next page; null: no more.")


class AttemptOut(BaseModel):
    model_config = ConfigDict(extra="allow")
    event_id: str
    sink: str
    attempt: int = Field(description="This sink's try number for the event, counted in the log.")
    at: float
    outcome: Outcome
    status: int | None = None
    latency_ms: float | None = None
    error_class: str | None = None
    error: str | None = Field(None, description="Redacted.")
    next_try_at: float | None = None


class EventDetail(EventSummary):
    payload: dict[str, Any] | None = Field(description="The event as sent (what a replay sends again).")
    attempts: list[AttemptOut]


class Timeline(BaseModel):
    item_id: str
    events: list[EventSummary] = Field(description="Oldest first.")


class CircuitState(BaseModel):
    state: Literal["open", "closed"]
    open_for_s: float


class RateLimitState(BaseModel):
    rate_per_s: float | None = Field(description="null: not rate-limited.")
    burst: int
    blocked_for_s: float = Field(description="How long the sink asked everyone to wait (429), 0 when not.")


class SinkHealth(BaseModel):
    name: str
    kind: str
    url: str = Field(description="Scheme and host only: the rest of a sink URL may be a secret.")
    circuit: CircuitState
    rate_limit: RateLimitState
    last_success_at: float | None
    last_failure_at: float | None
    last_error: str | None = Field(description="Redacted.")
    failures_last_hour: int
    failed: int = Field(description="Deliveries that failed for good and are still in the log (recoverable).")
    jobs_waiting: int = Field(description="Delivery jobs queued or scheduled for this sink.")


class SinkList(BaseModel):
    sinks: list[SinkHealth]


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sink: str = Field(pattern=ID_PATTERN, description="The sink's name.")


class RecoverRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    since: datetime = Field(description="ISO 8601 (UTC when no zone is given) or epoch seconds.")
    until: datetime | None = Field(None, description="Default: now.")


class ReplayOut(BaseModel):
    event_id: str
    sink: str
    job_id: str
    how: Literal["requeued", "enqueued", "pending"] = Field(
        description="requeued: its failed job; enqueued: a new job from the logged payload; pending: a delivery "
                    "is already waiting or running, nothing done.")


class RecoverOut(BaseModel):
    sink: str
    since: float
    until: float
    replayed: list[ReplayOut]
