"""Many webhook deliveries in flight at once, for a batch job: aiohttp on one event loop.

Measured on this kind of machine (issue #5): fanning 50 deliveries out inside one job, aiohttp sends
about 3,400/s where httpx.AsyncClient manages about 600/s, so the hot path uses aiohttp. Answers are
judged by the same table as every other sink (``notifier.delivery.retry_table``), and redirects are not followed.
"""

from __future__ import annotations

import asyncio
import atexit
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

import aiohttp

from notifier.backoff import parse_retry_after
from notifier.bounds import SINK_ANSWER_MAX, read_capped_async
from notifier.delivery.egress import EgressPolicy, denial_of
from notifier.delivery.egress_hooks import connector
from notifier.delivery.retry_table import Outcome, classify
from notifier.delivery.sinks.base import SinkRequest, SinkResponse
from notifier.errors import DeliveryError

Result = SinkResponse | DeliveryError
T = TypeVar("T")
KEEPALIVE_S = 3.0


def open_session(policy: EgressPolicy, concurrency: int, timeout_s: float) -> aiohttp.ClientSession:
    """A session with at most ``concurrency`` connections, every one through the egress policy."""
    # trust_env=False (aiohttp's default, said aloud): no proxy from the environment, like the httpx client.
    # Idle connections are dropped after a few seconds: a receiver that closes them first (many servers
    # keep an idle connection 5 s) would make a POST on a closed one fail.
    return aiohttp.ClientSession(connector=connector(policy, limit=concurrency, keepalive_timeout_s=KEEPALIVE_S),
                                 trust_env=False,
                                 timeout=aiohttp.ClientTimeout(total=timeout_s))


async def _post(session: aiohttp.ClientSession, request: SinkRequest, timeout_s: float,
                slots: asyncio.Semaphore) -> Result:
    async with slots:
        return await post(session, request, timeout_s)


async def post(session: aiohttp.ClientSession, request: SinkRequest, timeout_s: float) -> Result:
    """POST one request; its answer, or the DeliveryError it amounts to (never raised)."""
    started = time.monotonic()
    try:
        async with session.post(request.url, data=request.body, headers=request.headers,
                                allow_redirects=False) as response:
            # Only the start of an answer is used: at most SINK_ANSWER_MAX bytes are read.
            answer, _ = await read_capped_async(response.content.iter_any(), SINK_ANSWER_MAX)
            text = answer.decode(response.charset or "utf-8", errors="replace")[:300]
            status = response.status
            answered_at = time.time()
            retry_after = parse_retry_after(response.headers.get("retry-after"), answered_at)
    except TimeoutError:
        return DeliveryError(f"webhook: timed out after {timeout_s:g} s", retryable=True)
    except aiohttp.ClientError as exc:
        denied = denial_of(exc)
        if denied is not None:
            return DeliveryError(f"webhook: {denied}", retryable=False)
        return DeliveryError(f"webhook: could not connect ({type(exc).__name__})", retryable=True)
    outcome = classify(status)
    if outcome is Outcome.SUCCESS:
        return SinkResponse(status, text, time.monotonic() - started)
    detail = f"webhook: answered {status}"
    if outcome is Outcome.PERMANENT and 300 <= status < 400:
        detail += " (a redirect: redirects are not followed, configure the final URL)"
    elif text.strip():
        detail += f": {text.strip()[:200]!r}"
    return DeliveryError(detail, retryable=outcome is Outcome.RETRY, status_code=status, retry_after_s=retry_after,
                         response_text=text, answered_at=answered_at)


async def _send_all(requests: Sequence[SinkRequest], timeout_s: float, concurrency: int,
                    policy: EgressPolicy) -> list[Result]:
    slots = asyncio.Semaphore(concurrency)
    async with open_session(policy, concurrency, timeout_s) as session:
        return list(await asyncio.gather(*(_post(session, r, timeout_s, slots) for r in requests)))


def send_all(requests: Sequence[SinkRequest], timeout_s: float, concurrency: int, *,
             policy: EgressPolicy) -> list[Result]:
    """POST every request, at most ``concurrency`` at a time, through the egress policy; one result per request."""
    return asyncio.run(_send_all(requests, timeout_s, concurrency, policy))


class Sessions:
    """One event loop and one aiohttp session kept across the jobs of a worker process, so that a trickle of
    dispatch jobs reuses open connections instead of opening new ones each time.

    Whatever escapes a run (an RQ job timeout, a bug) closes both: the next run starts afresh."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: aiohttp.ClientSession | None = None
        self._key: tuple[int, int, float] | None = None
        atexit.register(self.close)

    def run(self, policy: EgressPolicy, concurrency: int, timeout_s: float,
            work: Callable[[aiohttp.ClientSession], Coroutine[Any, Any, T]]) -> T:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        try:
            return self._loop.run_until_complete(self._with_session(policy, concurrency, timeout_s, work))
        except BaseException:
            self.close()
            raise

    async def _with_session(self, policy: EgressPolicy, concurrency: int, timeout_s: float,
                            work: Callable[[aiohttp.ClientSession], Coroutine[Any, Any, T]]) -> T:
        key = (id(policy), concurrency, timeout_s)
        if self._session is None or self._session.closed or self._key != key:
            if self._session is not None:
                await self._session.close()
            self._session, self._key = open_session(policy, concurrency, timeout_s), key
        return await work(self._session)

    def close(self) -> None:
        loop, session = self._loop, self._session
        self._loop, self._session, self._key = None, None, None
        if loop is None or loop.is_running():
            return
        try:
            for task in asyncio.all_tasks(loop):
                task.cancel()
            if session is not None:
                loop.run_until_complete(session.close())
        except (RuntimeError, OSError, aiohttp.ClientError):
            pass  # closing what a failed run left: nothing more to do with it
        finally:
            loop.close()
