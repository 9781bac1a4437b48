"""``notifier events``, ``notifier attempts EVENT_ID`` and ``notifier recover SINK``: the attempt log from a
terminal, on the same functions as the HTTP API (:mod:`notifier.ops.inspect`, :mod:`notifier.ops.actions`)."""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from notifier.runtime.settings import Settings

COMMANDS = frozenset({"events", "attempts", "recover"})
_AGO = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_when(text: str, now: float) -> float:
    """Epoch seconds from ``2026-03-09T12:00:00Z`` (UTC when no zone), epoch seconds, or ``30m``/``2h``/``1d``
    (that long ago). Pure."""
    ago = _AGO.match(text.strip())
    if ago:
        return now - float(ago.group(1)) * _UNITS[ago.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: use ISO 8601 (2026-03-09T12:00:00Z), epoch seconds, or 30m, 2h, 1d ago"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _when(text: str) -> float:
    return parse_when(text, time.time())


def add_commands(command: Callable[..., argparse.ArgumentParser]) -> None:
    events = command("events", "delivered, retrying and failed events from the attempt log (newest first)")
    for name, about in (("account", "only this account's events"), ("medium", "image or video"),
                        ("type", "only events of this type, e.g. image.completed"),
                        ("sink", "only events sent to this sink"), ("item", "only this image's (or video's) events")):
        events.add_argument(f"--{name}", help=about)
    events.add_argument("--outcome", choices=["delivered", "retrying", "failed"], help="only events with this outcome")
    events.add_argument("--since", type=_when, help="detected at or after: ISO 8601, epoch seconds, or 2h (ago)")
    events.add_argument("--until", type=_when, help="detected at or before (same forms)")
    events.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    events.add_argument("--json", action="store_true", help="machine-readable output")
    attempts = command("attempts", "one event's payload and every delivery attempt")
    attempts.add_argument("event_id", help="the event's id (its webhook-id), e.g. evt_…")
    attempts.add_argument("--json", action="store_true", help="machine-readable output")
    recover = command("recover", "send again every delivery to a sink that failed for good in a time range")
    recover.add_argument("sink", help="the sink's name (see `notifier status`)")
    recover.add_argument("--since", type=_when, required=True, help="ISO 8601, epoch seconds, or 2h (ago)")
    recover.add_argument("--until", type=_when, help="default: now")


def _stamp(epoch: Any) -> str:
    return "—" if epoch is None else datetime.fromtimestamp(float(epoch)).strftime("%Y-%m-%d %H:%M:%S")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from notifier.ops import actions
    from notifier.ops.inspect import EventFilter, Inspector
    from notifier.runtime.app import connect

    client = connect(settings)
    if args.command == "events":
        wanted = EventFilter(account=args.account, medium=args.medium, type=args.type, sink=args.sink,
                             item_id=args.item, outcome=args.outcome, since=args.since, until=args.until)
        events, _ = Inspector(settings, client).events(wanted, limit=max(1, args.limit))
        if args.json:
            print(json.dumps(events, indent=2))
            return 0
        for event in events:
            sinks = ", ".join(f"{name} {last['outcome']}" for name, last in event["sinks"].items())
            print(f"{_stamp(event['detected_at'])}  {event['id']}  {event['type']:<18} {event['account'] or '-'}  "
                  f"{event['item_id'] or '-'}  {event['outcome']} ({sinks})")
        if not events:
            print("no event in the attempt log matches")
        return 0
    if args.command == "attempts":
        found = Inspector(settings, client).event(args.event_id)
        if found is None:
            print(f"event {args.event_id} is not in the attempt log (unknown, or older than its retention)")
            return 1
        if args.json:
            print(json.dumps(found, indent=2))
            return 0
        print(f"{found['id']}  {found['type']}  {found['item_id']}  {found['account']}  {found['outcome']}")
        for a in found["attempts"]:
            answer = f"HTTP {a['status']}" if a.get("status") is not None else "no answer"
            latency = f" in {a['latency_ms']:.0f} ms" if a.get("latency_ms") is not None else ""
            error = f": {a['error_class']}: {a['error']}" if a.get("error") else ""
            retry = f", next try {_stamp(a['next_try_at'])}" if a.get("next_try_at") else ""
            print(f"  #{a['attempt']} {a['sink']:<16} {_stamp(a['at'])}  {a['outcome']:<9} {answer}{latency}"
                  f"{error}{retry}")
        return 0
    until = args.until if args.until is not None else time.time()
    try:
        done = actions.recover(settings, client, args.sink, args.since, until)
    except actions.ActionError as exc:
        print(f"notifier recover: {exc}")
        return 2 if exc.status == 422 else 1
    fresh = [r for r in done if r.how != "pending"]
    print(f"{args.sink}: {len(fresh)} failed deliver{'y' if len(fresh) == 1 else 'ies'} sent again "
          f"({len(done) - len(fresh)} already pending)")
    return 0
