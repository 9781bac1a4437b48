"""Where accounts come from: one source per upstream token, each with its accounts (configured or listed).

The single-token settings (``NOTIFIER_USEAPI_TOKEN``…) make the source named ``default``; each entry of
``NOTIFIER_SOURCES`` makes another. An account is polled as a *unit*: its email for the default source
(the keys and logs of a single-token install are unchanged), ``<source>/<email>`` for the others, so two
sources may hold the same email without sharing anything (schedule, lease, Redis state).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from notifier.errors import UpstreamError
from notifier.polling.schedule import AccountSchedule
from notifier.state.keys import DEFAULT_SOURCE, NO_EMAIL
from notifier.state.tracker import Tracker
from notifier.upstream.client import UpstreamClient

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_SOURCE", "Source", "unit_of"]


def unit_of(source: str, account: str) -> str:
    """How an account of a source is named in schedules, leases, logs and Redis keys. Pure."""
    return account if source == DEFAULT_SOURCE else f"{source}/{account}"


@dataclass(eq=False)
class Source:
    name: str
    upstream: UpstreamClient
    tracker: Tracker
    configured: list[str] = field(default_factory=list)
    """Accounts to poll; empty = list them with ``GET /accounts``."""
    listed: list[str] = field(default_factory=list)
    listed_at: float | None = None
    list_error: AccountSchedule = field(default_factory=AccountSchedule)

    def __post_init__(self) -> None:
        self.listed = list(self.configured)

    @property
    def label(self) -> str:
        return "(account list)" if self.name == DEFAULT_SOURCE else f"{self.name} (account list)"

    def accounts(
        self, now: float, refresh_s: float, *,
        failed: Callable[[str, AccountSchedule, Exception, float], object],
        succeeded: Callable[[str, AccountSchedule], None],
    ) -> list[str]:
        """Configured accounts, or the upstream's list, listed again every ``refresh_s`` (monotonic ``now``)."""
        if self.configured:
            return self.listed
        fresh = self.listed_at is not None and now - self.listed_at < refresh_s
        if fresh or now < self.list_error.next_poll_at:
            return self.listed
        try:
            listed = self.upstream.list_accounts()
        except UpstreamError as exc:
            failed(self.label, self.list_error, exc, now)
            return self.listed
        succeeded(self.label, self.list_error)
        accounts = listed if listed else [NO_EMAIL]
        if accounts != self.listed:
            log.info("%spolling %d account(s)%s", "" if self.name == DEFAULT_SOURCE else f"{self.name}: ",
                     len(accounts), " (no account list: without email)" if listed is None else "")
        self.listed, self.listed_at = accounts, now
        return accounts
