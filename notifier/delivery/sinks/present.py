"""What a chat message says about an event, before any chat's format. Pure.

Every value that comes from the upstream is user data: it may be empty,
huge, non-Latin or hostile; the chat modules escape and cut it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from notifier.state.events import Event
from notifier.upstream.clean import clean_text

CUT_MARK = "… (cut)"

_STYLE: dict[str, tuple[str, str, int]] = {
    # event type: (title, emoji, colour)
    "image.completed": ("Image completed", "✅", 0x2EB67D),
    "image.moderated": ("Image moderated", "⚠️", 0xECB22E),
    "image.failed": ("Image failed", "❌", 0xE01E5A),
    "image.deleted": ("Image deleted", "🗑️", 0x868686),
    "image.unknown": ("Image in an unknown status", "❔", 0x868686),
}
_PROGRESS = ("⏳", 0x36C5F0)


def utf16_len(text: str) -> int:
    """Length as chat APIs count it (UTF-16 code units), so emoji and CJK never overflow a limit."""
    return len(text.encode("utf-16-le")) // 2


def cut(text: str, limit: int, mark: str = CUT_MARK) -> str:
    """``text`` within ``limit`` characters, ending with ``mark`` when it was cut."""
    if utf16_len(text) <= limit:
        return text
    keep = text[: max(0, limit - len(mark))]
    while utf16_len(keep) + utf16_len(mark) > limit:
        keep = keep[:-1]
    return keep + mark


@dataclass(frozen=True, slots=True)
class Presentation:
    kind: str
    """completed, warning (moderated, failed), progress, or other."""
    title: str
    emoji: str
    color: int
    prompt: str
    facts: list[tuple[str, str]]
    image_url: str | None
    image_id: str
    account: str
    timestamp: str


def _text(value: Any) -> str:
    """A value shown to people: valid text (lone surrogates replaced, so it can be measured and sent), stripped."""
    if value is None or isinstance(value, dict | list):
        return ""
    return clean_text(str(value)).strip()


def _http_url(value: Any) -> str | None:
    """An absolute http(s) URL a chat can link to, else None (a chat refuses the whole message for a bad one)."""
    if not isinstance(value, str) or not value.startswith(("https://", "http://")) or clean_text(value) is not value:
        return None  # broken text in a URL makes a link to somewhere else
    try:
        well_formed = bool(urlsplit(value).hostname)
    except ValueError:
        return None
    return value if well_formed and value.isprintable() and " " not in value else None


def present(event: Event) -> Presentation:
    data = event.data
    image = data.get("image") if isinstance(data.get("image"), dict) else {}
    assert isinstance(image, dict)
    status = _text(data.get("status")).lower() or "unknown"
    title, emoji, color = _STYLE.get(event.type, (f"Image {status}", *_PROGRESS))
    width, height = _text(image.get("output_width")), _text(image.get("output_height"))
    facts = [
        ("Model", _text(image.get("model"))),
        ("Quality", _text(image.get("quality"))),
        ("Aspect ratio", _text(image.get("aspect_ratio"))),
        ("Size", f"{width}×{height}" if width and height else ""),
        ("Seed", _text(image.get("seed"))),
        ("Account", _text(data.get("email"))),
    ]
    if event.type == "image.unknown":
        facts.append(("Status code", _text(data.get("status_code"))))
    if event.type == "image.completed":
        kind = "completed"
    elif event.type in ("image.moderated", "image.failed"):
        kind = "warning"
    elif event.type in ("image.queued", "image.generating", "image.processing"):
        kind = "progress"
    else:
        kind = "other"
    return Presentation(
        kind=kind,
        title=title,
        emoji=emoji,
        color=color,
        prompt=_text(image.get("prompt")),
        facts=[(label, value) for label, value in facts if value],
        image_url=_http_url(data.get("image_url")),
        image_id=_text(data.get("image_id")),
        account=_text(data.get("email")),
        timestamp=_text(event.timestamp),
    )
