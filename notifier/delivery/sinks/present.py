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

_STYLES: dict[str, tuple[str, str, int]] = {
    # event type after the noun: (title after the noun, emoji, colour)
    "completed": ("completed", "✅", 0x2EB67D),
    "moderated": ("moderated", "⚠️", 0xECB22E),
    "failed": ("failed", "❌", 0xE01E5A),
    "deleted": ("deleted", "🗑️", 0x868686),
    "unknown": ("in an unknown status", "❔", 0x868686),
    "stalled": ("stalled", "🐢", 0xECB22E),
    "expired": ("no longer followed", "⌛", 0x868686),
}
_STYLE: dict[str, tuple[str, str, int]] = {
    f"{noun}.{kind}": (f"{noun.capitalize()} {title}", emoji, color)
    for noun in ("image", "video") for kind, (title, emoji, color) in _STYLES.items()
}
_PROGRESS = ("⏳", 0x36C5F0)
_PROGRESS_NAMES = ("queued", "generating", "processing")


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
    """A picture to show inline: the image itself, or a video's first frame (thumbnail)."""
    image_id: str
    """The image's or video's id."""
    account: str
    timestamp: str
    noun: str = "image"
    """``image`` or ``video``."""
    link_url: str | None = None
    """What the message's button opens: the image, or the video file."""

    @property
    def link_label(self) -> str:
        return f"Open {self.noun}"


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


def _seconds(value: Any) -> str:
    """A duration for people: ``42 s``, ``3 min 5 s``; empty when unknown."""
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value < 10**9:
        return ""
    minutes, seconds = divmod(round(value), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def present(event: Event) -> Presentation:
    data = event.data
    noun, _, suffix = event.type.partition(".")
    noun = noun if noun in ("image", "video") else "image"
    image = data.get(noun) if isinstance(data.get(noun), dict) else {}
    assert isinstance(image, dict)
    status = _text(data.get("status")).lower() or "unknown"
    title, emoji, color = _STYLE.get(event.type, (f"{noun.capitalize()} {status}", *_PROGRESS))
    width, height = _text(image.get("output_width")), _text(image.get("output_height"))
    timing = data.get("timing") if isinstance(data.get("timing"), dict) else {}
    assert isinstance(timing, dict)
    facts = [
        ("Model", _text(image.get("model"))),
        ("Quality", _text(image.get("quality"))),
        ("Aspect ratio", _text(image.get("aspect_ratio"))),
        ("Size", f"{width}×{height}" if width and height else ""),
        ("Seed", _text(image.get("seed"))),
        ("Duration", f"{_text(image.get('duration'))} s" if _text(image.get("duration")) else ""),
        ("Generation time", _seconds(timing.get("total_s"))),
        ("Account", _text(data.get("email"))),
    ]
    if suffix == "unknown":
        facts.append(("Status code", _text(data.get("status_code"))))
    if suffix in ("stalled", "expired"):
        facts.append(("Status", _text(data.get("status"))))
        facts.append(("In progress for", _seconds(data.get("in_progress_s"))))
    if suffix == "completed":
        kind = "completed"
    elif suffix in ("moderated", "failed", "stalled"):
        kind = "warning"
    elif suffix in _PROGRESS_NAMES:
        kind = "progress"
    else:
        kind = "other"
    picture = data.get("thumbnail_url") if noun == "video" else data.get("image_url")
    return Presentation(
        kind=kind,
        title=title,
        emoji=emoji,
        color=color,
        prompt=_text(image.get("prompt")),
        facts=[(label, value) for label, value in facts if value],
        image_url=_http_url(picture),
        image_id=_text(data.get(f"{noun}_id")),
        account=_text(data.get("email")),
        timestamp=_text(event.timestamp),
        noun=noun,
        link_url=_http_url(data.get(f"{noun}_url")),
    )
