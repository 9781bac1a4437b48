"""The ``notifier`` command."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import TYPE_CHECKING

from notifier.errors import ConfigError, NotifierError
from notifier.ops.logs import setup_logging
from notifier.runtime.settings import Settings, load_settings

if TYPE_CHECKING:
    from notifier.runtime.embedded_redis import EmbeddedRedis

log = logging.getLogger("notifier")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="notifier", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("run", help="poller and delivery workers together (the container default)")
    sub.add_parser("poller", help="poll the upstream and enqueue events")
    worker = sub.add_parser("worker", help="deliver queued events")
    worker.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    once = sub.add_parser("poll-once", help="poll every account once and exit")
    once.add_argument("--backfill", action="store_true",
                      help="announce images not seen before instead of recording them silently (first poll)")
    status = sub.add_parser("status", help="tracked images per account, queue depth, failed deliveries")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    replay = sub.add_parser("replay", help="re-enqueue failed deliveries with a fresh set of tries")
    replay.add_argument("--sink", help="only the deliveries to this sink (its name)")
    test_sink = sub.add_parser("test-sink", help="send a sample event to every sink (or one) and show the answers")
    test_sink.add_argument("name", nargs="?", help="the sink's name (see `notifier status`)")
    health = sub.add_parser("health", help="exit 0 when Redis answers and the poller and workers checked in")
    health.add_argument("--role", choices=["run", "poller", "worker"], default="run",
                        help="what this container runs (default: run, both)")
    sub.add_parser("gen-secret", help="print a new whsec_ signing secret")
    demo = sub.add_parser("demo", help="see it work: simulated upstream, private Redis, verifying receiver")
    demo.add_argument("--duration", type=float, default=60.0, help="stop after this many seconds (default 60)")
    demo.add_argument("--webhook-url", help="also send the demo's events to this webhook")
    demo.add_argument("--webhook-secret", help="its whsec_ secret (one is made and shown when omitted)")
    demo.add_argument("--slack-url", help="also send the demo's final events to this Slack incoming webhook")
    sim = sub.add_parser("simulate", help="serve a simulated upstream with moving images (for trying out)")
    sim.add_argument("--port", type=int, default=8765)
    sim.add_argument("--token", default="user:1-simulated")
    return parser


def _poll_once(settings: Settings, backfill: bool) -> int:
    from notifier.runtime.app import build_poller, connect
    from notifier.upstream.scan import ScanResult

    client = connect(settings)
    poller = build_poller(settings, client)
    def progress(account: str, scan: ScanResult) -> None:
        # A backfill can read many pages: show the person waiting that it moves.
        print(f"{account}: page {scan.pages}, {scan.seen} image(s) so far, {len(scan.events)} event(s)",
              file=sys.stderr, flush=True)

    try:
        result = poller.run_cycle(force=True, backfill=backfill, on_page=progress if backfill else None)
    finally:
        poller.close()
    for scan in result.scans:
        print(f"{scan.account}: {scan.requests} request(s), {scan.seen} image(s) seen, "
              f"{len(scan.events)} event(s) ({scan.mode.value})")
    for account, error in result.errors.items():
        print(f"{account}: error: {error}")
    return 1 if result.errors else 0


def _status(settings: Settings, as_json: bool) -> int:
    from notifier.ops.report import collect_status
    from notifier.runtime.app import connect

    status = collect_status(settings, connect(settings))
    if as_json:
        print(json.dumps(asdict(status), indent=2))
        return 0
    beat = "never" if status.poller_heartbeat_age_s is None else f"{status.poller_heartbeat_age_s:.0f} s ago"
    print(f"poller: last cycle {beat}")
    if status.state_lost_at is not None:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(status.state_lost_at))
        print(f"WARNING: Redis lost notifier's state at {when}: changes made around then were not announced")
    print("sinks: " + (", ".join(status.sinks) or "none configured (events are recorded, not delivered)"))
    for row in status.accounts:
        last = "never" if row["last_poll_age_s"] is None else f"{row['last_poll_age_s']:.0f} s ago"
        error = f", error: {row['last_error']}" if row["last_error"] else ""
        print(f"account {row['account']}: {row['tracked']} tracked, polled {last}{error}")
    print(f"deliveries: {status.queued} queued, {status.scheduled} waiting to retry, "
          f"{status.started} in progress, {status.failed} failed")
    for failure in status.failures:
        print(f"  failed {failure['what']}: {failure['reason']}")
    return 0


def _test_sink(settings: Settings, name: str | None) -> int:
    import httpx

    from notifier.sandbox.testsink import try_sinks

    with httpx.Client(follow_redirects=False) as client:
        outcomes = try_sinks(settings, name, client)
    for outcome in outcomes:
        print(f"{outcome.sink.redacted()}: {'ok' if outcome.ok else 'FAILED'}: {outcome.answer}")
    return 0 if all(outcome.ok for outcome in outcomes) else 1


@contextmanager
def _redis_ready(settings: Settings) -> Iterator[tuple[Settings, EmbeddedRedis]]:
    """The settings with an embedded Redis server to use for this run, and that server."""
    from notifier.runtime.embedded_redis import EmbeddedRedis

    server = EmbeddedRedis(settings.data_dir)
    url = server.start()
    try:
        yield settings.model_copy(update={"redis_url": url}), server
    finally:
        server.stop()


_NEEDS_REDIS = frozenset({"run", "poller", "worker", "poll-once", "status", "replay", "health"})


def _dispatch(args: argparse.Namespace, settings: Settings, embedded: EmbeddedRedis | None = None) -> int:
    if args.command in _NEEDS_REDIS and not settings.redis_url:
        with _redis_ready(settings) as (ready, server):
            return _dispatch(args, ready, server)
    if args.command == "run":
        from workers import supervisor

        return supervisor.main(settings, embedded=embedded)
    if args.command == "poller":
        from workers import poller

        return poller.main(settings)
    if args.command == "worker":
        from workers import deliver

        return deliver.main(settings, burst=args.burst)
    if args.command == "poll-once":
        return _poll_once(settings, args.backfill)
    if args.command == "status":
        return _status(settings, args.json)
    if args.command == "health":
        from notifier.ops.health import problems
        from notifier.runtime.app import connect

        found = problems(settings, connect(settings), args.role)
        print("healthy" if not found else "unhealthy: " + "; ".join(found))
        return 1 if found else 0
    if args.command == "test-sink":
        return _test_sink(settings, args.name)
    if args.command == "replay":
        from notifier.ops.report import replay_failed
        from notifier.runtime.app import connect

        replayed = replay_failed(settings, connect(settings), sink=args.sink)
        print(f"re-enqueued {len(replayed)} failed deliver{'y' if len(replayed) == 1 else 'ies'}")
        return 0
    raise AssertionError(args.command)


def _demo(args: argparse.Namespace) -> int:
    from notifier.sandbox.demo import run_demo

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run_demo(duration_s=args.duration, webhook_url=args.webhook_url,
                        webhook_secret=args.webhook_secret, slack_url=args.slack_url)
    except ValueError as exc:
        print(f"notifier demo: {exc}", file=sys.stderr)
        return 2
    except NotifierError as exc:
        print(f"notifier demo: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError) else 1


def _simulate(port: int, token: str) -> int:
    from notifier.sandbox.sim_state import SimState, seed_demo
    from notifier.sandbox.simulator import Simulator

    state = SimState(token)
    seed_demo(state)
    server = Simulator(state, port=port).start()
    print(f"simulated upstream at {server.url} (token {token!r}); Ctrl-C stops it", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "gen-secret":
        from notifier.runtime.sink_config import new_secret

        print(new_secret())
        return 0
    if args.command == "demo":
        return _demo(args)
    if args.command == "simulate":
        return _simulate(args.port, args.token)
    try:
        settings = load_settings()
        setup_logging(settings)
        return _dispatch(args, settings)
    except ConfigError as exc:
        print(f"notifier: {exc}", file=sys.stderr)
        return 2
    except NotifierError as exc:
        print(f"notifier: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
