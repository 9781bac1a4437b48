"""The simulator's logic behind an httpx.MockTransport: fast unit tests of the client and poller."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from urllib.parse import parse_qs

import httpx

from notifier.sandbox.sim_state import SimState


def sim_transport(state: SimState, before: Callable[[httpx.Request], None] | None = None) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if before is not None:
            before(request)
        raw = request.url.raw_path.decode()
        fault = state.take_fault(raw)
        if fault is not None:
            time.sleep(fault.delay_s)
            return httpx.Response(fault.status, content=fault.body, headers=fault.headers)
        path, _, query = raw.partition("?")
        code, body = state.handle(path, parse_qs(query), request.headers.get("authorization"))
        return httpx.Response(code, content=json.dumps(body).encode())

    return httpx.MockTransport(handler)
