"""``notifier render SINK --type TYPE``: what a sink would send for a sample event of that type. Pure.

Shown as sent, with the values of a webhook's custom headers and a bot's token masked.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from notifier.delivery.sinks.samples import sample_event
from notifier.runtime.redact import MASK

if TYPE_CHECKING:
    from notifier.delivery.sinks import Sink

_SHOWN_HEADERS = {"content-type", "user-agent", "webhook-id", "webhook-timestamp"}


def preview(sink: Sink, event_type: str, now: float = 1_773_059_698.0) -> str:
    event = sample_event(event_type)
    request = sink.build_request(event, now)
    lines = [f"{sink.redacted()}: a sample {event_type} event"]
    if sink.kind == "webhook":
        for name, value in request.headers.items():
            shown = value if name.lower() in _SHOWN_HEADERS else MASK
            lines.append(f"{name}: {shown}")
        lines.append("")
    body = json.loads(request.body)
    if sink.kind == "apprise":
        lines += [f"format: {body['format']}, type: {body['type']}", f"title: {body['title']}", "", body["body"]]
    else:
        lines.append(json.dumps(body, ensure_ascii=False, indent=2))
    if request.thread is not None and request.thread.threads:
        lines.append("(the item's first message; a later status is this message in its thread, and updates it)")
    return "\n".join(lines)
