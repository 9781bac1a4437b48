"""Reading the attempt log: events (filtered, paginated), one event's attempts, an item's timeline, sinks'
health. The HTTP API and the CLI both answer from here; nothing here writes.

What is shown never holds a secret: sink URLs are shown as scheme and host only, error texts were
redacted when recorded and are masked again on the way out (they may predate a secret's rotation).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis
from rq.registry import ScheduledJobRegistry

from notifier.delivery.attempt_log import DAY_S, FAILURE_WINDOW_S, LEGACY_ATTEMPT, LEGACY_DOC, LEGACY_OUTCOME
from notifier.delivery.attempt_record import number_attempts
from notifier.delivery.enqueue import make_queue
from notifier.delivery.sinks import build_sinks
from notifier.delivery.sinks.base import redact_url
from notifier.runtime.redact import Redactor
from notifier.runtime.settings import Settings
from notifier.runtime.sink_config_chat import AppriseConfig
from notifier.state.keys import Keys

SCAN_CHUNK = 200
SCAN_MAX = 20_000
"""Most index entries one page of a filtered listing reads before it answers (with a cursor to go on)."""
JOBS_SCAN_MAX = 10_000


@dataclass(frozen=True)
class EventFilter:
    account: str | None = None
    medium: str | None = None
    event_id: str | None = None
    item_id: str | None = None
    type: str | None = None
    sink: str | None = None
    outcome: str | None = None
    since: float | None = None
    until: float | None = None


def _text(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _json(value: Any) -> Any:
    try:
        return json.loads(_text(value))
    except ValueError:
        return None


def _entry(lines: list[tuple[bytes, bytes]]) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]] | None:
    """An event from its attempts' (record, document) lines: the document is the same on each."""
    if not lines:
        return None
    document = _json(lines[-1][1])
    if not isinstance(document, dict):
        return None
    attempts = sorted((a for record, _ in lines if isinstance(a := _json(record), dict)),
                      key=lambda a: float(a.get("at") or 0))
    return document, {str(a.get("sink")): a for a in attempts}, attempts


def _legacy_entry(fields: dict[bytes, bytes]) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]] | None:
    values = {_text(k): v for k, v in fields.items()}
    document = _json(values.pop(LEGACY_DOC, b"null"))
    if not isinstance(document, dict):
        return None
    outcomes = {name.removeprefix(LEGACY_OUTCOME): o for name, v in values.items()
                if name.startswith(LEGACY_OUTCOME) and isinstance(o := _json(v), dict)}
    attempts = [a for name, v in sorted(values.items())
                if name.startswith(LEGACY_ATTEMPT) and isinstance(a := _json(v), dict)]
    return document, outcomes, sorted(attempts, key=lambda a: float(a.get("at") or 0))


def overall(outcomes: dict[str, dict[str, Any]]) -> str:
    """An event's outcome over its sinks: failed if one failed, else retrying if one waits, else delivered."""
    kinds = {str(o.get("outcome")) for o in outcomes.values()}
    for kind in ("failed", "retrying", "delivered"):
        if kind in kinds:
            return kind
    return "unknown"


def summary(doc: dict[str, Any], outcomes: dict[str, dict[str, Any]], shown: Redactor) -> dict[str, Any]:
    last = {sink: {"outcome": o.get("outcome"), "at": o.get("at"), "status": o.get("status"),
                   "error_class": o.get("error_class"), "error": shown.one_line(o["error"]) if o.get("error") else None}
            for sink, o in sorted(outcomes.items())}
    return {"id": doc.get("id"), "type": doc.get("type"), "item_id": doc.get("item_id"),
            "medium": doc.get("medium"), "account": doc.get("account"), "source": doc.get("source"),
            "detected_at": doc.get("detected_at"), "outcome": overall(outcomes), "sinks": last}


def matches(item: dict[str, Any], wanted: EventFilter) -> bool:
    """Whether an event's summary passes the filter (pure)."""
    for name in ("account", "medium", "type", "item_id"):
        value = getattr(wanted, name)
        if value is not None and item.get(name) != value:
            return False
    sinks: dict[str, dict[str, Any]] = item.get("sinks") or {}
    if wanted.sink is not None and wanted.sink not in sinks:
        return False
    if wanted.outcome is not None:
        if wanted.sink is not None:
            return sinks[wanted.sink].get("outcome") == wanted.outcome
        return item.get("outcome") == wanted.outcome
    return True


class Inspector:
    def __init__(self, settings: Settings, client: redis.Redis) -> None:
        self.settings = settings
        self.redis = client
        self.keys = Keys(settings.key_prefix)
        self.shown = Redactor.from_settings(settings)

    def _raw(self, event_ids: list[str]) -> list[tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]]:
        """(document, each sink's last outcome, attempts oldest first) of each event still logged."""
        wanted = list(dict.fromkeys(event_ids))
        if not wanted:
            return []
        with self.redis.pipeline(transaction=False) as pipe:
            for day in self._days():
                pipe.hmget(self.keys.logged_where(day), wanted)
            daily = pipe.execute()
        chunks: dict[str, list[str]] = {eid: [] for eid in wanted}
        for refs in daily:
            for eid, found in zip(wanted, refs, strict=True):
                if found is not None:
                    chunks[eid] += _text(found).split()
        lines = self._chunk_lines({ref for refs in chunks.values() for ref in refs}, set(wanted))
        # An event with no chunk may still be in the layout of before 2026-12-01.
        older = self._legacy([eid for eid in wanted if not chunks[eid]])
        found_all = []
        for eid in wanted:
            entry = _entry(lines.get(eid, [])) if chunks[eid] else older.get(eid)
            if entry is not None:  # else expired between the index and here
                found_all.append(entry)
        return found_all

    def _legacy(self, event_ids: list[str]) -> dict[str, tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]]:
        if not event_ids:
            return {}
        with self.redis.pipeline(transaction=False) as pipe:
            for eid in event_ids:
                pipe.hgetall(self.keys.legacy_logged_event(eid))
            raw = pipe.execute()
        return {eid: entry for eid, fields in zip(event_ids, raw, strict=True)
                if (entry := _legacy_entry(fields)) is not None}

    def _chunk_lines(self, refs: set[str], wanted: set[str]) -> dict[str, list[tuple[bytes, bytes]]]:
        """(record, document) of each wanted event's attempts in the chunks ``refs``."""
        with self.redis.pipeline(transaction=False) as pipe:
            for ref in refs:
                pipe.get(self.keys.logged_chunk(ref))
            texts = pipe.execute()
        lines: dict[str, list[tuple[bytes, bytes]]] = {}
        for text in texts:
            for line in (text or b"").split(b"\n"):
                eid, _, rest = line.partition(b"\t")
                if (key := _text(eid)) in wanted:
                    record, _, doc = rest.partition(b"\t")
                    lines.setdefault(key, []).append((record, doc))
        return lines

    def _days(self) -> range:
        """The UTC days (epoch day numbers) the log can still hold something of."""
        now = time.time()
        return range(int((now - self.settings.attempt_log_ttl_s) // DAY_S), int(now // DAY_S) + 1)

    def _load(self, event_ids: list[str]) -> list[dict[str, Any]]:
        return [summary(doc, outcomes, self.shown) for doc, outcomes, _ in self._raw(event_ids)]

    def events(self, wanted: EventFilter, *, limit: int = 50, cursor: int = 0
               ) -> tuple[list[dict[str, Any]], int | None]:
        """Newest first: up to ``limit`` events passing ``wanted``, and the cursor of the next page (None: no more)."""
        if wanted.event_id is not None:
            return [e for e in self._load([wanted.event_id]) if matches(e, wanted)][:limit], None
        top = "+inf" if wanted.until is None else wanted.until
        bottom = "-inf" if wanted.since is None else wanted.since
        of_item = None if wanted.item_id is None else [
            eid for eid, at in reversed(self._item_events(wanted.item_id))
            if (wanted.since is None or at >= wanted.since) and (wanted.until is None or at <= wanted.until)]
        page: list[dict[str, Any]] = []
        offset, scanned = cursor, 0
        filtered = any(getattr(wanted, name) is not None for name in ("account", "medium", "type", "sink", "outcome"))
        chunk = SCAN_CHUNK if filtered else limit  # unfiltered, every event read is shown
        while len(page) < limit and scanned < SCAN_MAX:
            ids = of_item[offset:offset + chunk] if of_item is not None else [
                _text(i) for i in self.redis.zrevrangebyscore(self.keys.logged_events(), top, bottom, start=offset,
                                                              num=chunk)]
            if not ids:
                return page, None
            for item in self._load(ids):
                if matches(item, wanted):
                    page.append(item)
                    if len(page) == limit:
                        # Resume after this event (the loaded list skips expired ids, so count by id).
                        return page, offset + ids.index(str(item["id"])) + 1
            offset += len(ids)
            scanned += len(ids)
        return page, offset

    def event(self, event_id: str) -> dict[str, Any] | None:
        """One event: its summary, payload and every attempt (numbered per sink), or None when unknown."""
        found = self._raw([event_id])
        if not found:
            return None
        doc, outcomes, attempts = found[0]
        for attempt in attempts:
            if attempt.get("error"):
                attempt["error"] = self.shown.one_line(str(attempt["error"]))
        return {**summary(doc, outcomes, self.shown), "payload": doc.get("payload"),
                "attempts": number_attempts(attempts)}

    def timeline(self, item_id: str) -> list[dict[str, Any]]:
        """The events of one image or video, oldest first."""
        return self._load([eid for eid, _ in self._item_events(item_id)])

    def _item_events(self, item_id: str) -> list[tuple[str, float]]:
        """(event id, detected at) of one item's events still logged, oldest first."""
        with self.redis.pipeline(transaction=False) as pipe:
            for day in self._days():
                pipe.hget(self.keys.logged_items(day), item_id)
            pipe.zrange(self.keys.legacy_item_timeline(item_id), 0, -1, withscores=True)
            *daily, legacy = pipe.execute()
        seen = {_text(eid): float(at) for eid, at in legacy}
        for text in daily:
            words = _text(text).split() if text is not None else []
            seen.update((eid, float(at)) for eid, at in zip(words[::2], words[1::2], strict=False))
        return sorted(seen.items(), key=lambda pair: pair[1])

    def payload(self, event_id: str) -> dict[str, Any] | None:
        found = self._raw([event_id])
        payload = found[0][0].get("payload") if found else None
        return payload if isinstance(payload, dict) else None

    def failed_between(self, sink: str, since: float, until: float) -> list[str]:
        """Events whose delivery to ``sink`` failed for good between ``since`` and ``until`` (oldest first)."""
        return [_text(i) for i in self.redis.zrangebyscore(self.keys.sink_failed(sink), since, until)]

    def sinks(self, *, now: float | None = None) -> list[dict[str, Any]]:
        """Each configured sink with its health; its URL as scheme and host only."""
        now = time.time() if now is None else now
        configured = build_sinks(self.settings)
        waiting = self._jobs_waiting(list(configured))
        with self.redis.pipeline(transaction=False) as pipe:
            for name in configured:
                pipe.pttl(self.keys.circuit(name))
                pipe.get(self.keys.blocked(name))
                pipe.hgetall(self.keys.sink_health(name))
                pipe.zcount(self.keys.sink_failures(name), now - FAILURE_WINDOW_S, "+inf")
                pipe.zcard(self.keys.sink_failed(name))
            raw = pipe.execute()
        rows = []
        for number, (name, sink) in enumerate(configured.items()):
            circuit_ms, blocked, health_raw, failures, failed = raw[number * 5:number * 5 + 5]
            health = {_text(k): _text(v) for k, v in health_raw.items()}
            blocked_until = float(_text(blocked)) if blocked is not None else None
            rows.append({
                "name": name,
                "kind": sink.kind,
                "url": sink.config.where() if isinstance(sink.config, AppriseConfig) else redact_url(sink.config.url),
                "circuit": {"state": "open" if isinstance(circuit_ms, int) and circuit_ms > 0 else "closed",
                            "open_for_s": round(circuit_ms / 1000, 1) if isinstance(circuit_ms, int)
                            and circuit_ms > 0 else 0.0},
                "rate_limit": {"rate_per_s": sink.config.rate_per_s, "burst": sink.config.burst,
                               "blocked_for_s": round(max(0.0, blocked_until - now), 1)
                               if blocked_until is not None else 0.0},
                "last_success_at": float(health["last_success_at"]) if health.get("last_success_at") else None,
                "last_failure_at": float(health["last_failure_at"]) if health.get("last_failure_at") else None,
                "last_error": self.shown.one_line(health["last_error"]) if health.get("last_error") else None,
                "failures_last_hour": int(failures),
                "failed": int(failed),
                "jobs_waiting": waiting.get(name, 0),
            })
        return rows

    def _jobs_waiting(self, names: list[str]) -> dict[str, int]:
        """Queued and scheduled delivery jobs per sink (job ids end with ``-<sink>``)."""
        queue = make_queue(self.redis, self.settings)
        ids = queue.get_job_ids(0, JOBS_SCAN_MAX - 1)
        ids += ScheduledJobRegistry(queue=queue).get_job_ids(  # type: ignore[no-untyped-call]
            0, JOBS_SCAN_MAX - 1, cleanup=False)
        counts: dict[str, int] = {}
        for job_id in ids:
            for name in names:
                if job_id.endswith(f"-{name}"):
                    counts[name] = counts.get(name, 0) + 1
                    break
        return counts
