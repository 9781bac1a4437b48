"""The poller process: polls every account until SIGTERM or SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from notifier.app import build_poller, connect
from notifier.settings import Settings

log = logging.getLogger(__name__)


def main(settings: Settings) -> int:
    client = connect(settings)
    poller = build_poller(settings, client)
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("poller: %s received, stopping after the current cycle", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        poller.run_forever(stop)
    finally:
        poller.close()
        client.close()
    return 0
