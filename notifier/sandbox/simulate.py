"""``notifier simulate``: a simulated upstream that keeps making images, to point ``notifier run`` at.

It serves accounts with some history, starts a new image on each of them every so often
(:mod:`notifier.sandbox.traffic`) and prints each image's statuses as it serves them, so what
``notifier run`` logs (or sends) can be held against it.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import IO

from notifier.sandbox.sim_state import SimState
from notifier.sandbox.simulator import Simulator
from notifier.sandbox.traffic import OUTCOMES, Pace, Traffic, name

HISTORY = 3
"""Old finished images per account: a first poll records them silently."""


def banner(url: str, token: str, accounts: list[str], pace: Pace) -> list[str]:
    mix = ", ".join(f"{share:.0%} {name(code).lower()}" for code, share in OUTCOMES)
    traffic = ("no new images (--every 0)" if pace.off
               else f"a new image on each account {pace.describe()}, ending {mix}")
    return [
        f"simulated upstream at {url} (token {token})",
        f"accounts: {', '.join(accounts)}, with {HISTORY} old images each",
        traffic,
        "",
        "to try the service against it, in another terminal:",
        f"  export NOTIFIER_USEAPI_BASE_URL={url}",
        f"  export NOTIFIER_USEAPI_TOKEN={token}",
        "  scripts/run        (or: notifier run)",
        "its first poll of each account records what is there without a word; new images follow.",
        "",
        "Ctrl-C stops it. The images as served:",
    ]


def run_simulate(*, port: int, token: str, accounts: int, pace: Pace, quiet: bool = False,
                 out: IO[str] = sys.stdout) -> int:
    def say(line: str) -> None:
        print(line, file=out, flush=True)

    # Image numbers of their own in every run: a Redis that outlives this simulator remembers the last
    # run's images as final, and would never announce an image that comes back with the same id.
    state = SimState(token, first_image=int(time.time() * 1000))
    emails = [f"artist{n}@example.com" for n in range(1, accounts + 1)]
    for email in emails:
        state.add_history(email, HISTORY)
    try:
        server = Simulator(state, port=port).start()
    except OSError as exc:
        print(f"notifier simulate: cannot listen on port {port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for line in banner(server.url, token, emails, pace):
            say(line)
        traffic = Traffic(state, emails, pace, say=None if quiet else say).start()
        while not stop.wait(0.5):
            pass
        traffic.stop()
        say(f"stopped after {traffic.made} new image(s)")
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
