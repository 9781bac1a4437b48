"""One simulated image or video as the upstream answers it (see :mod:`notifier.sandbox.sim_state`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from notifier.upstream.media import IMAGES, MEDIA, VIDEOS


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class SimImage:
    """An image, or a video when ``medium`` is ``videos`` (fields named ``video_*``, the file in ``url``)."""

    image_id: str
    account: str
    created_at: float
    timeline: list[tuple[float, int | None]]
    """(time, status code) steps; the status at a time is the last step at or before it. A None code is a
    glitch: the image is answered with a null ``image_status`` (and no name) while it lasts."""
    extra: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False
    medium: str = "images"

    def finished_at(self, now: float) -> bool:
        code = self.status_at(now)
        return code is not None and MEDIA[self.medium].statuses.get(code, ("", False))[1]

    def status_at(self, now: float) -> int | None:
        current = self.timeline[0][1]
        for at, code in self.timeline:
            if at <= now:
                current = code
        return current

    def to_json(self, now: float) -> dict[str, Any]:
        if self.medium == "videos":
            return self._video_json(now)
        code = self.status_at(now)
        body: dict[str, Any] = {
            "image_id": self.image_id,
            "image_status": code,
            "account_id": 33445566,
            "create_mode": "t2i",
            "model": "qwen-image",
            "prompt": "a lighthouse at dusk, oil painting",
            "quality": "720p",
            "aspect_ratio": "1:1",
            "seed": 123456,
            "output_width": 720,
            "output_height": 720,
            "queue_data": None,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(max(at for at, _ in self.timeline if at <= now) if now >= self.created_at
                               else self.created_at),
        }
        finals = [at for at, step in self.timeline if step is not None and IMAGES.statuses.get(step, ("", False))[1]]
        if code in (5, 9, 10) and finals:
            # Like the upstream's, an estimate (here: exact) of when the image will be done.
            body["queue_data"] = {"estimated_gen_time": round(min(finals) - self.created_at, 1),
                                  "processing_start_time": _iso(self.created_at), "queue_count": 0,
                                  "queue_time": 0}
        if code == 1:
            number = self.image_id.rsplit(":", 1)[-1]
            body["image_path"] = f"image/{number}.webp"
            body["image_url"] = f"https://media.pixverse.ai/image/{number}.webp"
        if code is not None and code in IMAGES.statuses:
            name, final = IMAGES.statuses[code]
            body["image_status_name"], body["image_status_final"] = name, final
        body.update(self.extra)
        return body


    def _video_json(self, now: float) -> dict[str, Any]:
        code = self.status_at(now)
        number = self.image_id.rsplit(":", 1)[-1]
        body: dict[str, Any] = {
            "video_id": self.image_id, "video_status": code, "account_id": 33445566, "create_mode": "t2v",
            "model": "v5", "prompt": "a lighthouse at dusk, waves rolling in", "quality": "540p", "duration": 5,
            "queue_data": None, "created_at": _iso(self.created_at),
            "updated_at": _iso(max(at for at, _ in self.timeline if at <= now) if now >= self.created_at
                               else self.created_at),
        }
        if code == 1:
            body["url"] = f"https://media.pixverse.ai/video/{number}.mp4"
            body["first_frame"] = f"https://media.pixverse.ai/video/{number}-first.jpg"
        if code is not None and code in VIDEOS.statuses:
            name, final = VIDEOS.statuses[code]
            # The upstream's page marks QUEUED final: so does the simulator.
            body["video_status_name"], body["video_status_final"] = name, final or name == "QUEUED"
        body.update(self.extra)
        return body
