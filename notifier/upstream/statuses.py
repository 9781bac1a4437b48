"""What an image's status means. Pure: no I/O.

The upstream computes ``image_status_name`` and ``image_status_final`` from
``image_status``; when they are present they are its word and win over our
table. An unknown code is reported as UNKNOWN and stays non-final, so the
image keeps being polled until it becomes final or too old. An image with no
status at all (``image_status`` missing or null, and no usable name) says
nothing: it is :data:`NO_INFORMATION`, never a transition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from notifier.upstream.media import IMAGES, MEDIA, Medium

# code -> (name, final). 8 FAILED is not in the upstream's page but is used by PixVerse.
KNOWN_STATUSES: dict[int, tuple[str, bool]] = IMAGES.statuses
KNOWN_NAMES: frozenset[str] = frozenset(name for m in MEDIA.values() for name, _ in m.statuses.values())
FINAL_NAMES: frozenset[str] = frozenset(name for m in MEDIA.values() for name, final in m.statuses.values() if final)
UNKNOWN = "UNKNOWN"
_NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]{0,39}$")
DELETED = "DELETED"
NO_STATUS = "NO_STATUS"


@dataclass(frozen=True, slots=True)
class Status:
    """One observed status. ``name`` is the upstream's name when it gave one."""

    name: str
    code: int | None
    final: bool

    @property
    def known(self) -> bool:
        return self.name in KNOWN_NAMES or self.name == DELETED

    @property
    def informative(self) -> bool:
        """False for an answer that carried no status at all (missing or null): not a transition."""
        return self.name != NO_STATUS

    @property
    def key(self) -> str:
        """Identity of the status for change detection: name and code together."""
        return f"{self.name}:{'' if self.code is None else self.code}"


def resolve(image: dict[str, Any], medium: Medium = IMAGES) -> Status:
    """The status of an image (or video) object as received (every field optional)."""
    field = medium.status_field
    raw_code = image.get(field)
    # bool is an int subclass; a boolean status code is garbage, not 0/1.
    code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else None
    if isinstance(raw_code, str) and raw_code.strip().lstrip("-").isdigit() and len(raw_code) < 10:
        code = int(raw_code)
    table = medium.statuses
    table_name, table_final = table.get(code, (UNKNOWN, False)) if code is not None else (UNKNOWN, False)

    raw_name = image.get(f"{field}_name")
    name = raw_name.strip().upper() if isinstance(raw_name, str) else ""
    if not _NAME_RE.match(name) or name == NO_STATUS:
        if code is None:
            # Neither a code nor a name: a glitch (or an error body), not a status.
            return NO_INFORMATION
        # Absent, empty or garbage: our table decides.
        name = table_name

    raw_final = image.get(f"{field}_final")
    final = raw_final if isinstance(raw_final, bool) else table_final
    if final and name in medium.untrusted_final:
        final = False  # the upstream's flag is known wrong here (videos: QUEUED marked final)
    return Status(name=name, code=code, final=final)


def deleted() -> Status:
    return Status(name=DELETED, code=None, final=True)


NO_INFORMATION = Status(name=NO_STATUS, code=None, final=False)
"""What an image without any status says: nothing. The tracker keeps what it knew."""
