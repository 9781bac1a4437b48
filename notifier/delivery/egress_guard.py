"""The egress policy for a library that opens its own connections: Apprise (requests, smtplib, ...).

Apprise's services take no HTTP client of ours; each resolves and connects by itself. While a send runs
inside :func:`guarded`, every name resolved through ``socket.getaddrinfo`` in that context (the calling
thread, and the threads Apprise starts with a copy of its context) is filtered by the policy: denied
addresses are dropped, and a name left with none raises :class:`~notifier.delivery.egress.EgressDenied`.
The library then connects to an address of that filtered answer; there is no second lookup, so DNS
rebinding cannot slip through. IP literals go through ``getaddrinfo`` too (requests, urllib3, smtplib,
``socket.create_connection``). In the same context requests ignores proxies and ``.netrc`` from the
environment (``trust_env`` off), so the policy judges the destination, not a proxy.

Outside a guarded send nothing changes: the hooks look at a context variable and step aside. Not covered:
a library that connects to an address without resolving it first (none of Apprise's network services
that were checked does), and local services (``dbus://``, ``windows://``), which open no network connection.
"""

from __future__ import annotations

import contextvars
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from notifier.delivery.egress import EgressDenied, EgressPolicy, decide


@dataclass
class Guard:
    policy: EgressPolicy
    refusals: list[str] = field(default_factory=list)
    """Every refusal during the send (the library reports only that it failed)."""


_GUARD: contextvars.ContextVar[Guard | None] = contextvars.ContextVar("notifier_egress_guard", default=None)
_original_getaddrinfo = socket.getaddrinfo
_installed = threading.Lock()
_done = False


def _getaddrinfo(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0,
                 flags: int = 0) -> list[Any]:
    infos = _original_getaddrinfo(host, port, family, type, proto, flags)
    guard = _GUARD.get()
    if guard is None:
        return infos
    allowed: list[Any] = []
    refusals: list[str] = []
    for info in infos:
        decision = decide(str(info[4][0]), guard.policy)
        if decision.allowed:
            allowed.append(info)
        else:
            refusals.append(decision.reason)
    if not allowed:
        reason = str(refusals[0]) if refusals else "the host resolves to no address"
        guard.refusals.append(reason)
        raise EgressDenied(reason)
    return allowed


def install() -> None:
    """Put the hooks in place (once per process; idempotent)."""
    global _done
    with _installed:
        if _done:
            return
        socket.getaddrinfo = _getaddrinfo
        import requests  # what Apprise's services use (a dependency of apprise)

        original_init = requests.Session.__init__

        def init(self: Any, *args: Any, **kwargs: Any) -> None:
            original_init(self, *args, **kwargs)
            if _GUARD.get() is not None:
                self.trust_env = False  # no environment proxies, no .netrc

        requests.Session.__init__ = init  # type: ignore[method-assign]
        _done = True


@contextmanager
def guarded(policy: EgressPolicy) -> Iterator[Guard]:
    """Every connection made in this context (and contexts copied from it) goes through ``policy``."""
    install()
    guard = Guard(policy)
    token = _GUARD.set(guard)
    try:
        yield guard
    finally:
        _GUARD.reset(token)
