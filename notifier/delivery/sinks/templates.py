"""Message templates: Jinja2 in its sandboxed environment, escaped for the target. Pure.

Event data is user text (a prompt may hold ``<!channel>``, ``**bold**`` or ``</td>``), so every value a
template prints is escaped for where the text goes; the template's own text is the operator's and is
left as written:

- ``plain``: Slack ``plain_text``, an Apprise text body, a title: nothing to escape;
- ``slack``: Slack mrkdwn: ``&``, ``<`` and ``>`` (no mention or link can be formed);
- ``discord`` and ``markdown``: a backslash before every markdown character;
- ``html``: HTML escaping (Jinja2's own autoescape);
- ``json``: every printed value is written as JSON (strings come quoted), so the payload stays JSON.

A value passed through ``|safe`` is printed as it is. The names a template may use are
:data:`CONTEXT_NAMES` (see :func:`context`); :func:`check` compiles a template and renders it for a
sample event of every event type the code knows (``notifier.state.events.EVENT_TYPES``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

from jinja2 import TemplateError, Undefined, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from notifier.delivery.sinks.present import present
from notifier.delivery.sinks.samples import sample_event
from notifier.errors import DeliveryError
from notifier.state.events import EVENT_TYPES, Event
from notifier.upstream.clean import clean_text

TARGETS = ("plain", "slack", "discord", "markdown", "html", "json")
DEFAULT_TITLE = "{{ emoji }} {{ title }}"
"""Today's title of every chat message ("✅ Image completed")."""
DEFAULT_TEXT = '{{ prompt or "(no prompt)" }}'
"""Today's text of a Slack or Discord message: the prompt."""
WARNINGS = {
    "image.moderated": "PixVerse's moderation blocked this image.",
    "image.failed": "PixVerse could not generate this image.",
}
CONTEXT_NAMES = frozenset({
    "type", "event_id", "timestamp", "title", "emoji", "color", "outcome", "warning", "prompt", "facts", "url",
    "image_url", "image_id", "image", "item_id", "item_kind", "item", "account", "status", "previous_status", "final",
    "data", "event",
})
_MARKDOWN = re.compile(r"([\\`*_~|<>\[\]#])")


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def markdown_escape(text: str) -> str:
    """A backslash before each markdown character: shown as typed in Discord and Markdown renderers."""
    return _MARKDOWN.sub(r"\\\1", text)


def _as_text(value: Any) -> str:
    if value is None or isinstance(value, Undefined):
        return ""
    return str(value)


def _escaping(escape: Callable[[str], str]) -> Callable[[Any], str]:
    def finalize(value: Any) -> str:
        return str(value) if isinstance(value, Markup) else escape(_as_text(value))
    return finalize


def _as_json(value: Any) -> str:
    if isinstance(value, Markup):
        return str(value)
    if isinstance(value, Undefined):
        value = None
    return json.dumps(value, ensure_ascii=False, default=str)


_FINALIZE: dict[str, Callable[[Any], str]] = {
    "plain": _escaping(lambda text: text),
    "slack": _escaping(slack_escape),
    "discord": _escaping(markdown_escape),
    "markdown": _escaping(markdown_escape),
    "json": _as_json,
}


@functools.cache
def environment(target: str) -> ImmutableSandboxedEnvironment:
    """The sandboxed environment of one target (sandboxed: a template reaches no Python internals)."""
    if target == "html":
        return ImmutableSandboxedEnvironment(autoescape=True, keep_trailing_newline=False)
    return ImmutableSandboxedEnvironment(autoescape=False, finalize=_FINALIZE[target])


@functools.lru_cache(maxsize=256)
def _compiled(target: str, source: str) -> Any:
    return environment(target).from_string(source)


def context(event: Event) -> dict[str, Any]:
    """What a template sees: the event's words as chat messages show them, and its data as sent."""
    p = present(event)
    data = event.data if isinstance(event.data, dict) else {}
    kind = event.type.partition(".")[0] if isinstance(event.type, str) else "image"
    item = data.get(kind) if isinstance(data.get(kind), dict) else data.get("image")
    item_id = data.get(f"{kind}_id") or data.get("image_id")
    return {
        "type": event.type, "event_id": event.id, "timestamp": p.timestamp, "title": p.title, "emoji": p.emoji,
        "color": p.color, "outcome": p.kind, "warning": WARNINGS.get(event.type, ""), "prompt": p.prompt,
        "facts": p.facts, "url": p.image_url, "image_url": p.image_url, "image_id": p.image_id,
        "item_id": str(item_id) if item_id is not None else p.image_id, "item_kind": kind,
        "item": item if isinstance(item, dict) else {},
        "image": data["image"] if isinstance(data.get("image"), dict) else {}, "account": p.account,
        "status": data.get("status"),
        "previous_status": data.get("previous_status"), "final": data.get("final"), "data": data,
        "event": event.payload(),
    }


def render(target: str, source: str, event: Event) -> str:
    """``source`` rendered for ``event``, escaped for ``target``.

    A template that fails for this event's data (checked at start-up against samples, but real data can
    differ: ``{{ image.seed + 1 }}`` with a seed that is text) is this delivery's final failure, with the reason.
    """
    try:
        return str(_compiled(target, source).render(context(event)))
    except Exception as exc:  # any failure of the operator's template on this data
        reason = clean_text(str(exc))[:200]
        raise DeliveryError(f"the sink's template failed for this event ({type(exc).__name__}: {reason})",
                            retryable=False) from None


def check(source: str, target: str) -> None:
    """Compile ``source`` and render it for a sample of every event type; ValueError says what is wrong.

    The message names a line and Jinja2's reason, never the template's text.
    """
    env = environment(target)
    try:
        names = meta.find_undeclared_variables(env.parse(source))  # compiles it: unknown filters fail here
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        raise ValueError(f"is not a valid template ({f'line {line}: ' if line else ''}{exc.message})") from None
    unknown = sorted(names - CONTEXT_NAMES)
    if unknown:
        raise ValueError(f"uses unknown names {', '.join(unknown)} (known: {', '.join(sorted(CONTEXT_NAMES))})")
    for event_type in sorted(EVENT_TYPES):
        try:
            text = render(target, source, sample_event(event_type))
        except DeliveryError as exc:
            reason = str(exc).removeprefix("the sink's template failed for this event ")
            raise ValueError(f"fails for a sample {event_type} event {reason}") from None
        if target == "json":
            try:
                json.loads(text)
            except ValueError as exc:
                raise ValueError(f"does not render valid JSON for a sample {event_type} event ({exc})") from None
