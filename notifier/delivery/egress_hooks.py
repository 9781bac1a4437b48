"""The egress policy (:mod:`notifier.delivery.egress`) in front of both HTTP clients.

- httpx (single deliveries, the upstream, ``test-sink``): :func:`client` / :func:`transport`, whose
  httpcore network backend (:class:`EgressBackend`) resolves the name, drops denied addresses and
  connects to an allowed address it resolved itself.
- aiohttp (batch deliveries): :func:`connector`, with :class:`EgressResolver` (the same resolution,
  then the same filter) and a socket factory that checks the address of every socket aiohttp opens,
  IP literals included (aiohttp does not ask its resolver about those).

Neither uses proxies from the environment (httpx: a transport of our own and ``trust_env=False``;
aiohttp: ``trust_env=False``).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterable
from typing import Any

import aiohttp
import httpcore
import httpx
from aiohttp.abc import AbstractResolver, ResolveResult

from notifier.delivery import egress
from notifier.delivery.egress import EgressDenied, EgressPolicy, Resolve, allowed_addresses, decide


class EgressBackend(httpcore.NetworkBackend):
    """httpcore's network backend with the policy in front: resolve, filter, connect to a checked address."""

    def __init__(self, policy: EgressPolicy, resolve: Resolve | None = None) -> None:
        self._policy = policy
        self._resolve = resolve
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        try:
            addresses = (self._resolve or egress.RESOLVE)(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"could not resolve the host ({type(exc).__name__})") from exc
        last: Exception | None = None
        for address in allowed_addresses(host, addresses, self._policy):
            try:
                return self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        raise EgressDenied("unix sockets are not a destination")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def transport(policy: EgressPolicy, *, max_connections: int = 32, resolve: Resolve | None = None,
              ) -> httpx.HTTPTransport:
    """An httpx transport whose every connection goes through the policy (no proxies)."""
    made = httpx.HTTPTransport(
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
    )
    pool = made._pool
    if not isinstance(pool, httpcore.ConnectionPool) or not hasattr(pool, "_network_backend"):
        raise RuntimeError("this httpx/httpcore version cannot take an egress policy")
    pool._network_backend = EgressBackend(policy, resolve)
    return made


def client(policy: EgressPolicy, *, max_connections: int = 32, **kwargs: Any) -> httpx.Client:
    """An httpx client behind the policy: no environment proxies, no .netrc, redirects not followed."""
    kwargs.setdefault("follow_redirects", False)
    return httpx.Client(transport=transport(policy, max_connections=max_connections), trust_env=False, **kwargs)


class EgressResolver(AbstractResolver):
    """aiohttp's resolver: the same resolution as the httpx side, then the denied addresses are dropped."""

    def __init__(self, policy: EgressPolicy, resolve: Resolve | None = None) -> None:
        self._policy = policy
        self._resolve = resolve

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_UNSPEC,
                      ) -> list[ResolveResult]:
        found = await asyncio.get_running_loop().run_in_executor(None, self._resolve or egress.RESOLVE, host, port)
        results: list[ResolveResult] = []
        for address in allowed_addresses(host, found, self._policy):
            address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
            if family in (socket.AF_UNSPEC, address_family):
                results.append({"hostname": host, "host": address, "port": port, "family": address_family,
                                "proto": 0, "flags": socket.AI_NUMERICHOST})
        if not results:
            raise EgressDenied(f"{host} has no allowed address of the wanted family")
        return results

    async def close(self) -> None:
        return None


def socket_factory(policy: EgressPolicy) -> Callable[[Any], socket.socket]:
    """aiohttp's socket factory: checks the address of every socket it opens (IP literals included)."""

    def make(addr_info: Any) -> socket.socket:
        family, type_, proto, _, address = addr_info
        decision = decide(str(address[0]), policy)
        if not decision.allowed:
            raise EgressDenied(decision.reason)
        return socket.socket(family=family, type=type_, proto=proto)

    return make


def connector(policy: EgressPolicy, *, limit: int, resolve: Resolve | None = None,
              keepalive_timeout_s: float = 15.0) -> aiohttp.TCPConnector:
    """An aiohttp connector whose every connection goes through the policy (sessions use no env proxies)."""
    return aiohttp.TCPConnector(limit=limit, resolver=EgressResolver(policy, resolve),
                                socket_factory=socket_factory(policy), keepalive_timeout=keepalive_timeout_s)
