"""One poll of one account over every medium watched (``NOTIFIER_MEDIA``): one scan per medium's list.

Each medium keeps its own state (tracked items, cursors, baseline), so an account's videos are first
polled silently (recorded, not announced) even when its images were baselined long ago. An idle account
costs one request per medium. The results are added up into one :class:`ScanResult`, which is what the
poller schedules the account by; final events are counted in the generation metrics here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from notifier.ops.metrics import observe_final
from notifier.state.tracker import Tracker
from notifier.upstream.client import UpstreamClient
from notifier.upstream.media import MEDIA
from notifier.upstream.scan import ScanLimits, ScanResult, scan_account


def merge(results: Sequence[ScanResult]) -> ScanResult:
    """One result for the account: sums, and every event in the order found."""
    first = results[0]
    merged = ScanResult(account=first.account, mode=first.mode)
    for result in results:
        merged.requests += result.requests
        merged.pages += result.pages
        merged.seen += result.seen
        merged.events.extend(result.events)
        merged.lookups += result.lookups
        merged.skipped_items += result.skipped_items
        merged.active += result.active
        merged.remaining_s.extend(result.remaining_s)
        merged.capped = merged.capped or result.capped
    return merged


def scan_media(
    upstream: UpstreamClient,
    tracker: Tracker,
    account: str,
    *,
    media: Sequence[str],
    limits: ScanLimits,
    now: float,
    backfill: bool = False,
    on_page: Callable[[str, ScanResult], None] | None = None,
) -> ScanResult:
    """Scan the account's list of each medium in turn; an error in one stops the poll (the account backs off)."""
    results: list[ScanResult] = []

    def progress(account: str, current: ScanResult) -> None:
        if on_page is not None:
            on_page(account, merge([*results, current]))  # what the poll has done so far, every medium

    for name in media:
        results.append(scan_account(upstream, tracker, account, limits=limits, now=now, backfill=backfill,
                                    on_page=progress, medium=MEDIA[name]))
    merged = merge(results)
    for event in merged.events:
        observe_final(event)
    return merged
