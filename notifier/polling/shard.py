"""Which poller polls which account: rendezvous hashing over the live pollers. Pure: plain data and ``now`` in.

Every poller checks in (a heartbeat with Redis' own clock) and reads the others' check-ins. A poller not
heard of for ``poller_ttl_s`` is dead. Each account goes to the live poller with the highest
``hash(poller, account)``: every poller computes the same answer from the same list without talking
to the others, the accounts spread evenly, and a poller that joins or leaves moves only its own share
(about 1/N of the accounts), never reshuffles the rest. Pollers may see a membership change up to one
check-in apart; the per-account poll lease (:mod:`notifier.polling.membership`) keeps two of them
from polling one account at the same time during that second.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


def live_pollers(beats: Mapping[str, float], now: float, ttl_s: float) -> list[str]:
    """The pollers heard of within ``ttl_s`` of ``now`` (all times on one clock: Redis'), sorted. Pure."""
    return sorted(poller for poller, at in beats.items() if now - at < ttl_s)


def score(poller: str, account: str) -> int:
    """The rendezvous weight of ``account`` on ``poller``: a hash, the same on every machine. Pure."""
    digest = hashlib.blake2b(f"{poller}\n{account}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(account: str, live: Iterable[str]) -> str | None:
    """The one poller that polls ``account`` (None when no poller is live). Pure."""
    return max(live, key=lambda poller: (score(poller, account), poller), default=None)


def owned_by(me: str, accounts: Iterable[str], live: Iterable[str]) -> set[str]:
    """The accounts ``me`` polls. A poller that does not see itself live (it could not check in) counts
    itself in: it keeps polling its share rather than none while Redis is unreachable. Pure."""
    members = set(live) | {me}
    return {account for account in accounts if owner(account, members) == me}


@dataclass(frozen=True, slots=True)
class Share:
    """A poller's share of the accounts, computed again only when the pollers or the accounts change."""

    me: str
    live: tuple[str, ...] | None = None
    """The live pollers it was computed for (None: not computed yet)."""
    accounts: tuple[str, ...] = ()
    mine: frozenset[str] = frozenset()

    def update(self, live: Iterable[str], accounts: Iterable[str]) -> Share:
        """This share for a new membership and account list (itself when neither changed). Pure."""
        live_t, accounts_t = tuple(sorted(live)), tuple(accounts)
        if live_t == self.live and accounts_t == self.accounts:
            return self
        return Share(self.me, live_t, accounts_t, frozenset(owned_by(self.me, accounts_t, live_t)))
