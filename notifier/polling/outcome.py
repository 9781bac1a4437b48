"""What a poll found, said once: the events in the log and the metrics, and a cycle's totals."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from notifier.ops.metrics import metrics
from notifier.upstream.scan import ScanResult

log = logging.getLogger("notifier.polling.poller")


@dataclass(slots=True)
class CycleResult:
    scans: list[ScanResult] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def events(self) -> int:
        return sum(len(scan.events) for scan in self.scans)

    @property
    def requests(self) -> int:
        return sum(scan.requests for scan in self.scans)


def log_scan(scan: ScanResult, account: str) -> None:
    for event in scan.events:
        metrics().events.labels(event.type).inc()
        if event.type.endswith(".unknown"):
            log.warning(
                "%s of %s has a status the notifier does not know (code %s, name %s): "
                "announced as %s and still tracked",
                event.item_id, account, event.data["status_code"], event.data["status"], event.type,
            )
        log.info(
            "%s %s: %s -> %s",
            event.type,
            event.item_id,
            event.data["previous_status"] or "(new)",
            event.data["status"],
            extra={"event_id": event.id, "account": account, "event_type": event.type},
        )
    if scan.skipped_items:
        log.warning("%s: %d list item(s) without an image_id were skipped", account, scan.skipped_items)
