"""The ``notifier`` command: argument parsing and dispatch to the stages and the sandbox."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import TYPE_CHECKING

from notifier import cli_ops
from notifier.errors import ConfigError, NotifierError
from notifier.ops.logs import setup_logging
from notifier.runtime.settings import Settings, load_settings

if TYPE_CHECKING:
    from notifier.runtime.embedded_redis import EmbeddedRedis

log = logging.getLogger("notifier")


ABOUT = """\
Sends each status change of your useapi.net PixVerse images to webhooks, Slack and Discord.
New here? `notifier demo` shows it working, with nothing to configure."""

SETTINGS = "Settings are NOTIFIER_* environment variables or a .env file: see README.md."

SIMULATE = """\
Serves a simulated useapi.net PixVerse upstream on 127.0.0.1: a few accounts with some history,
and on each account a new image every so often that moves through QUEUED, GENERATING and
PROCESSING to COMPLETED, or ends MODERATED or FAILED. Each image's statuses are printed as served.
Point the service at it from another terminal:

  export NOTIFIER_USEAPI_BASE_URL=http://127.0.0.1:8765/v2/pixverse
  export NOTIFIER_USEAPI_TOKEN=user:1-simulated
  notifier run"""


def _pace(text: str) -> object:
    from notifier.sandbox.traffic import Pace

    try:
        return Pace.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="notifier", description=ABOUT, epilog=SETTINGS,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, about: str, description: str | None = None) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=about, description=description or about[0].upper() + about[1:] + ".",
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    demo = command("demo", "see it work: simulated upstream, private Redis, verifying receiver (start here)")
    demo.add_argument("--duration", type=float, default=None,
                      help="stop after this many seconds (default: 60, or until Ctrl-C when run from a terminal)")
    demo.add_argument("--stay", action="store_true",
                      help="keep the console up after the demo's events until Ctrl-C or --duration "
                           "(the default from a terminal)")
    demo.add_argument("--webhook-url", help="also send the demo's events to this webhook")
    demo.add_argument("--webhook-secret", help="its whsec_ secret (one is made and shown when omitted)")
    demo.add_argument("--slack-url", help="also send the demo's final events to this Slack incoming webhook")
    sim = command("simulate", "serve a simulated upstream that keeps making images, to run the service against",
                  SIMULATE)
    sim.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 to serve on (default 8765)")
    sim.add_argument("--token", default="user:1-simulated",
                     help="the API token it accepts, NOTIFIER_USEAPI_TOKEN (default user:1-simulated)")
    sim.add_argument("--accounts", type=int, default=2, choices=range(1, 101), metavar="N",
                     help="how many accounts, artist1@example.com and on (default 2)")
    sim.add_argument("--every", type=_pace, default="10-20", metavar="SECONDS",
                     help="a new image on each account every SECONDS: a number, or a range such as 10-20 "
                          "drawn from each time (default 10-20); 0 makes none")
    sim.add_argument("--quiet", action="store_true", help="print only where it serves, not each image")
    command("run", "poller and delivery workers together (the container default)")
    command("poller", "poll the upstream and enqueue events")
    worker = command("worker", "deliver queued events")
    worker.add_argument("--burst", action="store_true", help="exit once the queue is empty")
    once = command("poll-once", "poll every account once and exit")
    once.add_argument("--backfill", action="store_true",
                      help="announce images not seen before instead of recording them silently (first poll)")
    status = command("status", "tracked images per account, queue depth, failed deliveries")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    replay = command("replay", "re-enqueue failed deliveries with a fresh set of tries")
    replay.add_argument("--sink", help="only the deliveries to this sink (its name)")
    test_sink = command("test-sink", "send a sample event to every sink (or one) and show the answers")
    test_sink.add_argument("name", nargs="?", help="the sink's name (see `notifier status`)")
    health = command("health", "exit 0 when Redis answers and the poller and workers checked in")
    health.add_argument("--role", choices=["run", "poller", "worker"], default="run",
                        help="what this container runs (default: run, both)")
    render = command("render", "show what a sink would send for a sample event (its templates at work)")
    render.add_argument("sink", help="the sink's name (see `notifier status`)")
    render.add_argument("--type", default="image.completed", metavar="TYPE",
                        help="the event type of the sample (default image.completed)")
    command("gen-secret", "print a new whsec_ signing secret")
    cli_ops.add_commands(command)
    return parser


def _poll_once(settings: Settings, backfill: bool) -> int:
    from notifier.runtime.app import build_poller, connect
    from notifier.runtime.redact import clean_text
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
        print(f"{clean_text(account)}: error: {clean_text(error)}")
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
    print(f"deliveries: {status.outbox} in outboxes, {status.queued} jobs queued, {status.scheduled} waiting to retry, "
          f"{status.started} in progress, {status.failed} failed")
    for failure in status.failures:
        print(f"  failed {failure['what']}: {failure['reason']}")
    return 0


def _test_sink(settings: Settings, name: str | None) -> int:
    from notifier.delivery import egress, egress_hooks
    from notifier.sandbox.testsink import try_sinks

    with egress_hooks.client(egress.EgressPolicy.from_settings(settings)) as client:
        outcomes = try_sinks(settings, name, client)
    for outcome in outcomes:
        print(f"{outcome.sink.redacted()}: {'ok' if outcome.ok else 'FAILED'}: {outcome.answer}")
    return 0 if all(outcome.ok for outcome in outcomes) else 1


def _render(settings: Settings, name: str, event_type: str) -> int:
    from notifier.delivery.sinks import build_sinks
    from notifier.delivery.sinks.preview import preview
    from notifier.state.events import EVENT_TYPES

    sinks = build_sinks(settings)
    if name not in sinks:
        raise ConfigError(f"no sink named {name!r}; configured: {', '.join(sinks) or 'none'}")
    if event_type not in EVENT_TYPES:
        raise ConfigError(f"unknown event type {event_type!r} (known: {', '.join(sorted(EVENT_TYPES))})")
    print(preview(sinks[name], event_type))
    return 0


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


_NEEDS_REDIS = frozenset({"run", "poller", "worker", "poll-once", "status", "replay", "health", *cli_ops.COMMANDS})


def _dispatch(args: argparse.Namespace, settings: Settings, embedded: EmbeddedRedis | None = None) -> int:
    if args.command in _NEEDS_REDIS and not settings.redis_url:
        with _redis_ready(settings) as (ready, server):
            return _dispatch(args, ready, server)
    if args.command in cli_ops.COMMANDS:
        return cli_ops.run(args, settings)
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
    if args.command == "render":
        return _render(settings, args.sink, args.type)
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
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
        stay = args.stay or interactive
        duration = args.duration if args.duration is not None else (None if stay else 60.0)
        return run_demo(duration_s=duration, stay=stay, webhook_url=args.webhook_url,
                        webhook_secret=args.webhook_secret, slack_url=args.slack_url)
    except ValueError as exc:
        print(f"notifier demo: {exc}", file=sys.stderr)
        return 2
    except NotifierError as exc:
        print(f"notifier demo: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError) else 1


def _simulate(args: argparse.Namespace) -> int:
    from notifier.sandbox.simulate import run_simulate

    return run_simulate(port=args.port, token=args.token, accounts=args.accounts, pace=args.every,
                        quiet=args.quiet)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "gen-secret":
        from notifier.runtime.sink_config import new_secret

        print(new_secret())
        return 0
    if args.command == "demo":
        return _demo(args)
    if args.command == "simulate":
        return _simulate(args)
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
