"""``notifier test-sink``: send a realistic sample event to configured sinks and show their answers.

Filters are ignored on purpose: the point is to check a URL or a secret
before real events flow. The sample is marked as a test in its data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from notifier.delivery.sinks import Sink, build_sinks
from notifier.errors import ConfigError, DeliveryError
from notifier.ops.sample import sample_event
from notifier.runtime.settings import Settings


@dataclass(frozen=True, slots=True)
class Outcome:
    sink: Sink
    ok: bool
    answer: str


def try_sinks(settings: Settings, name: str | None, client: httpx.Client) -> list[Outcome]:
    sinks = build_sinks(settings)
    if not sinks:
        raise ConfigError("no sink is configured (NOTIFIER_WEBHOOK_URL, NOTIFIER_SLACK_WEBHOOK_URL, ...)")
    if name is not None:
        if name not in sinks:
            raise ConfigError(f"no sink named {name!r}; configured: {', '.join(sinks)}")
        sinks = {name: sinks[name]}
    now = time.time()
    event = sample_event(now)
    outcomes = []
    for sink in sinks.values():
        try:
            response = sink.send(client, sink.build_request(event, now), settings.delivery_timeout_s)
        except DeliveryError as exc:
            outcomes.append(Outcome(sink, False, str(exc)))
            continue
        text = response.text.strip()[:200]
        answer = f"answered {response.status_code}" + (f": {text}" if text else "")
        outcomes.append(Outcome(sink, True, f"{answer} in {response.elapsed_s * 1000:.0f} ms"))
    return outcomes
