"""Apprise sink: one URL scheme per service (Teams, Telegram, Mattermost, ntfy, email, over a hundred), sent by
the ``apprise`` library.

``build_request`` (pure) renders the title and the text from the sink's templates; ``send`` hands them to
Apprise. Apprise answers only success or failure, so every failure is retried, at most
``NOTIFIER_APPRISE_MAX_ATTEMPTS`` tries in all (a refusal cannot be told from an outage; it is recorded as a
502), and the shared per-sink rate limit applies like any chat sink's. A connection error or timeout that
Apprise reports opens the sink's circuit like any sink's outage. A send:

- runs in the worker's thread (``async_mode`` off), its services' timeouts set to the delivery timeout,
  redirects not followed, nothing written to disk (``storage_mode=memory``);
- goes through the egress policy (:mod:`notifier.delivery.egress_guard`): a refused address fails the
  delivery at once, without retries, with the policy's reason;
- keeps Apprise's own log lines out of the notifier's logs (at DEBUG they print whole URLs and payloads):
  its warnings are captured, every part of the URL that could be a token masked, and the first one is
  the delivery's error.
"""

from __future__ import annotations

import contextvars
import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from notifier.delivery.egress_guard import guarded
from notifier.delivery.sinks.base import SinkRequest, SinkResponse, json_text
from notifier.delivery.sinks.present import cut, present
from notifier.delivery.sinks.templates import DEFAULT_TITLE, render
from notifier.errors import DeliveryError
from notifier.runtime.redact import Redactor
from notifier.runtime.sink_config_chat import apprise_secrets, instantiate, quiet_apprise

if TYPE_CHECKING:
    from notifier.delivery.egress import EgressPolicy
    from notifier.runtime.sink_config_chat import AppriseConfig
    from notifier.state.events import Event

TITLE_MAX = 250
BODY_MAX = 4000
"""Within what most services take (Telegram 4,096, Teams and email far more); Apprise splits or cuts the rest."""
DEFAULT_TEXTS = {
    "text": ('{{ prompt or "(no prompt)" }}\n{% if warning %}{{ warning }}\n{% endif %}'
             '{% for label, value in facts %}{{ label }}: {{ value }}\n{% endfor %}'
             '{% if url %}{{ url }}\n{% endif %}{{ item_id }}'),
    "markdown": ('{{ prompt or "(no prompt)" }}\n\n{% if warning %}**{{ warning }}**\n\n{% endif %}'
                 '{% for label, value in facts %}- **{{ label }}**: {{ value }}\n{% endfor %}'
                 '{% if url %}\n[Open]({{ url|safe }})\n{% endif %}\n`{{ item_id }}`'),
    "html": ('<p>{{ prompt or "(no prompt)" }}</p>{% if warning %}<p><b>{{ warning }}</b></p>{% endif %}'
             '<table>{% for label, value in facts %}<tr><th>{{ label }}</th><td>{{ value }}</td></tr>{% endfor %}'
             '</table>{% if url %}<p><a href="{{ url }}">Open</a></p>{% endif %}<p><code>{{ item_id }}</code></p>'),
}
_TYPES = {"completed": "success", "warning": "warning", "progress": "info", "other": "info"}
_TARGETS = {"text": "plain", "markdown": "markdown", "html": "html"}


def build_request(event: Event, config: AppriseConfig, now: float) -> SinkRequest:
    p = present(event)
    title = render("plain", config.title_template or DEFAULT_TITLE, event).strip()
    body = render(_TARGETS[config.format], config.text_template or DEFAULT_TEXTS[config.format], event).strip()
    kind = "failure" if event.type.endswith(".failed") else _TYPES[p.kind]
    message = {"title": cut(title, TITLE_MAX), "body": cut(body or " ", BODY_MAX), "format": config.format,
               "type": kind}
    return SinkRequest(url=config.url, body=json_text(message).encode(), headers={})


class _Capture(logging.Handler):
    """Apprise's warnings of the send under way (a context variable says which), nothing else."""

    def emit(self, record: logging.LogRecord) -> None:
        lines = _LINES.get()
        if lines is not None and len(lines) < 20:
            try:
                lines.append(record.getMessage())
            except Exception:  # a malformed record of the library's: not the delivery's failure
                lines.append(f"(a {record.levelname} line that could not be formatted)")


_LINES: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("notifier_apprise_lines", default=None)
_senders: dict[tuple[str, float], tuple[Any, Redactor, str]] = {}
_lock = threading.Lock()


def _sender(url: str, timeout_s: float) -> tuple[Any, Redactor, str]:
    """Apprise with the one service of ``url`` (made once per process), its redactor and its service's name."""
    with _lock:
        made = _senders.get((url, timeout_s))
        if made is None:
            import apprise

            quiet_apprise()
            logger = logging.getLogger("apprise")
            if not any(isinstance(h, _Capture) for h in logger.handlers):
                logger.addHandler(_Capture(logging.WARNING))
            plugin = instantiate(url)
            if plugin is None:
                raise DeliveryError("apprise: the URL is not one Apprise can use", retryable=False)
            plugin.socket_connect_timeout = plugin.socket_read_timeout = timeout_s
            plugin.redirects = False
            asset = apprise.AppriseAsset(async_mode=False, storage_mode="memory", service_timeout=timeout_s * 3)
            plugin.asset = asset
            sender = apprise.Apprise(asset=asset)
            sender.add(plugin)
            made = (sender, Redactor(apprise_secrets(url)), str(getattr(plugin, "service_name", "service")))
            _senders[(url, timeout_s)] = made
        return made


def send(request: SinkRequest, timeout_s: float, *, policy: EgressPolicy) -> SinkResponse:
    message = json.loads(request.body)
    sender, redactor, service = _sender(request.url, timeout_s)
    lines: list[str] = []
    token = _LINES.set(lines)
    started = time.monotonic()
    try:
        with guarded(policy) as guard:
            result = sender.notify(body=message["body"], title=message["title"], notify_type=message["type"],
                                   body_format=message["format"])
    except Exception as exc:  # a service's bug must not escape as a library error
        raise DeliveryError(f"apprise: {service} failed ({type(exc).__name__})", retryable=True) from None
    finally:
        _LINES.reset(token)
    elapsed = time.monotonic() - started
    if guard.refusals:
        raise DeliveryError(f"apprise: refused by the egress policy: {guard.refusals[0]}", retryable=False)
    if result:
        return SinkResponse(200, f"sent by Apprise ({service})", elapsed)
    said = redactor.one_line(lines[0])[:200] if lines else "no reason given"
    # Unreachable (Apprise says "connection error") opens the sink's circuit like any sink's outage; any other
    # failure is a service's answer, told apart from nothing else: a 502, retried up to the sink's cap.
    unreachable = any("connection error" in line.lower() or "timed out" in line.lower() for line in lines)
    raise DeliveryError(f"apprise: {service} notification failed: {said}", retryable=True,
                        status_code=None if unreachable else 502)
