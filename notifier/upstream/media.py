"""What the notifier watches: images and videos, each a list of the same shape under its own names. Pure.

A :class:`Medium` says how the upstream names one kind of item (``image_id`` or ``video_id``, its status
fields, its URL field), which endpoints list and look it up, its status table, and what its answers may
be trusted for (``../shared/upstream/BEHAVIOUR.md``):

- videos: 1 COMPLETED, 5 QUEUED, 10 GENERATING are documented; other codes are taken as for images (7
  MODERATED, 8 FAILED, 9 GENERATING). The page marks QUEUED final, and a public client saw it so: a
  final flag on a status known not to be final is not trusted (the video keeps being polled).
- ``GET /videos/{id}`` answers 404 while a video is still processing, and after its deletion: a 404
  there is a deletion only when a read of the list covered where the video was and did not show it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_IMAGE_STATUSES: dict[int, tuple[str, bool]] = {
    1: ("COMPLETED", True),
    5: ("QUEUED", False),
    7: ("MODERATED", True),
    8: ("FAILED", True),  # not in the upstream's page but used by PixVerse
    9: ("GENERATING", False),
    10: ("PROCESSING", False),
}


@dataclass(frozen=True, slots=True)
class Medium:
    name: str
    """Plural, as in the endpoint and ``NOTIFIER_MEDIA``: ``images`` or ``videos``."""
    noun: str
    """Singular: the event type's prefix (``video.completed``) and the fields' (``video_id``)."""
    statuses: dict[int, tuple[str, bool]]
    url_field: str
    """The item's field holding the finished file's URL."""
    thumbnail_fields: tuple[str, ...] = ()
    """Fields that may hold a still of the item (first match wins)."""
    untrusted_final: frozenset[str] = field(default_factory=frozenset)
    """Status names whose ``*_final: true`` from the upstream is ignored (they are known not to be final)."""
    lookup_404_is_deletion: bool = True
    """False when the lookup answers 404 for items still in progress too."""

    @property
    def id_field(self) -> str:
        return f"{self.noun}_id"

    @property
    def status_field(self) -> str:
        return f"{self.noun}_status"

    @property
    def list_path(self) -> str:
        return f"{self.name}/"

    @property
    def item_endpoint(self) -> str:
        """The metric label of a lookup (``image``, ``video``)."""
        return self.noun


IMAGES = Medium(name="images", noun="image", statuses=_IMAGE_STATUSES, url_field="image_url")
VIDEOS = Medium(
    name="videos", noun="video",
    statuses={**_IMAGE_STATUSES, 5: ("QUEUED", False), 10: ("GENERATING", False)},
    url_field="url",
    # Public clients name the still differently; every one seen is tried.
    thumbnail_fields=("first_frame", "first_frame_url", "thumbnail", "thumbnail_url", "cover_url"),
    untrusted_final=frozenset({"QUEUED", "GENERATING", "PROCESSING"}),
    lookup_404_is_deletion=False,
)
MEDIA: dict[str, Medium] = {m.name: m for m in (IMAGES, VIDEOS)}
BY_NOUN: dict[str, Medium] = {m.noun: m for m in MEDIA.values()}
