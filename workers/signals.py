"""Graceful stop on SIGTERM and SIGINT, shared by the long-running processes."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

log = logging.getLogger(__name__)


def stop_event_on_signals(who: str, then: str) -> threading.Event:
    """An event set by the first SIGTERM or SIGINT; ``then`` says what the process does next."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("%s: %s received, %s", who, signal.Signals(signum).name, then)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    return stop
