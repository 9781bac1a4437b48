"""Three real pollers share 300 simulated accounts over one Redis; one is SIGKILLed, one joins.

Who polled what and when comes from the simulator's own request log (each poller has a token of its
own): no account is ever polled by two pollers at once, none goes unpolled for over 10 s, a dead
poller's accounts are taken over and a new poller gets its share within 10 s (default ``poller_ttl_s``).
"""

from __future__ import annotations

import itertools
import signal
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import redis

from notifier.polling.shard import owner
from notifier.sandbox.sim_state import SimRequest
from notifier.sandbox.simulator import Simulator
from notifier.state.keys import Keys
from tests.support.processes import Proc, wait_until

ACCOUNTS = [f"user{n}@example.com" for n in range(300)]
TOKENS = {name: f"user:1234-shard{name}TOKENsecret" for name in "ABCD"}
MAX_GAP_S = 10.0


def _polled_by(log: list[SimRequest], token: str, since: float) -> set[str]:
    return {r.email for r in list(log) if r.token == token and r.started >= since}


def _overlaps(log: list[SimRequest]) -> list[str]:
    """Requests for one account by two pollers whose spans overlap."""
    found = []
    by_email: dict[str, list[SimRequest]] = defaultdict(list)
    for request in log:
        by_email[request.email].append(request)
    for email, requests in by_email.items():
        ended: dict[str, float] = {}
        for r in sorted(requests, key=lambda r: r.started):
            found += [f"{email}: {other} until {end:.3f}, {r.token} from {r.started:.3f}"
                      for other, end in ended.items() if other != r.token and end > r.started]
            ended[r.token] = max(r.ended, ended.get(r.token, 0.0))
    return found


def _gaps(log: list[SimRequest], since: float, until: float) -> dict[str, float]:
    """Per account, the longest time without a poll within [since, until]."""
    times: dict[str, list[float]] = defaultdict(list)
    for r in log:
        times[r.email].append(r.started)
    worst = {}
    for email in ACCOUNTS:
        marks = [since, *sorted(t for t in times[email] if since < t < until), until]
        worst[email] = max(b - a for a, b in itertools.pairwise(marks))
    return worst


def test_pollers_split_the_accounts_take_over_and_share_again(
    simulator: Callable[..., Simulator], make_settings: Callable[..., Any], spawn: Callable[..., Proc],
    redis_url: str, real_redis: redis.Redis,
) -> None:
    sim = simulator()
    state = sim.state
    state.tokens |= set(TOKENS.values())
    for email in ACCOUNTS:
        state.add_history(email, 2)
    state.list_delay_s = 0.02  # a poll spans a measurable time: two at once would overlap in the log
    state.log = log = []

    def start(name: str) -> Proc:
        settings = make_settings(useapi_token=TOKENS[name], useapi_base_url=sim.url, redis_url=redis_url,
                                 accounts=ACCOUNTS, poll_interval_s=2.0, poll_interval_active_s=2.0,
                                 key_prefix="shard", log_level="INFO")
        return spawn(["poller"], settings)

    procs = {name: start(name) for name in "ABC"}
    keys = Keys("shard")
    wait_until(lambda: real_redis.zcard(keys.pollers()) == 3, 20, "three pollers checking in")
    # Settled: each has seen the others at a check-in since (one every second by default).
    settled = time.monotonic() + 2.0
    wait_until(lambda: {r.email for r in list(log) if r.started > settled} == set(ACCOUNTS), 20,
               "every account polled once the pollers settled")
    steady = [r for r in list(log) if r.started > settled]
    pollers_of: dict[str, set[str]] = defaultdict(set)
    for r in steady:
        pollers_of[r.email].add(r.token)
    assert all(len(tokens) == 1 for tokens in pollers_of.values()), "an account polled by two pollers"
    shares = {name: sum(1 for t in pollers_of.values() if TOKENS[name] in t) for name in "ABC"}
    assert all(60 <= n <= 140 for n in shares.values()), shares

    b_accounts = {email for email, tokens in pollers_of.items() if TOKENS["B"] in tokens}
    killed = time.monotonic()
    procs["B"].signal_group(signal.SIGKILL)
    taken = [TOKENS["A"], TOKENS["C"]]
    wait_until(lambda: b_accounts <= _polled_by(log, taken[0], killed) | _polled_by(log, taken[1], killed),
               MAX_GAP_S + 5, "B's accounts taken over")
    takeover_s = time.monotonic() - killed

    joined = time.monotonic()
    procs["D"] = start("D")
    ids_before = {m.decode() for m in real_redis.zrange(keys.pollers(), 0, -1)}
    wait_until(lambda: len({m.decode() for m in real_redis.zrange(keys.pollers(), 0, -1)} - ids_before) == 1,
               15, "D checking in")
    d_id = ({m.decode() for m in real_redis.zrange(keys.pollers(), 0, -1)} - ids_before).pop()
    seconds, _ = real_redis.time()
    live = [m.decode() for m, at in real_redis.zrange(keys.pollers(), 0, -1, withscores=True) if seconds - at < 5]
    d_share = {email for email in ACCOUNTS if owner(email, live) == d_id}
    assert 50 <= len(d_share) <= 150
    wait_until(lambda: d_share <= _polled_by(log, TOKENS["D"], joined), MAX_GAP_S + 5, "D polling its share")
    join_s = time.monotonic() - joined
    wait_until(lambda: not (d_share & _polled_by(log, TOKENS["A"], time.monotonic() - 2.5)
                            | d_share & _polled_by(log, TOKENS["C"], time.monotonic() - 2.5)),
               10, "A and C leaving D's share to it")
    ended = time.monotonic()
    for name, proc in procs.items():
        if name != "B":
            proc.stop()

    assert takeover_s < MAX_GAP_S, f"B's accounts taken over after {takeover_s:.1f} s"
    assert join_s < MAX_GAP_S, f"D got its share after {join_s:.1f} s"
    assert not _overlaps(list(log)), _overlaps(list(log))[:5]
    gaps = _gaps(list(log), settled, ended)
    worst = max(gaps, key=lambda email: gaps[email])
    print(f"takeover {takeover_s:.1f} s, join {join_s:.1f} s, longest unpolled {gaps[worst]:.1f} s")
    assert gaps[worst] <= MAX_GAP_S, f"{worst} unpolled for {gaps[worst]:.1f} s"
    assert "Traceback" not in "".join(proc.output() for proc in procs.values())
