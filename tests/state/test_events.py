from notifier.state.events import EVENT_TYPES, build_event, email_of, event_id, event_type, format_timestamp
from notifier.upstream.statuses import Status, deleted, resolve

IMAGE = {
    "image_id": "user:1-pixverse:a-b@x.com-image:7",
    "image_status": 1,
    "image_url": "https://media.pixverse.ai/image/7.webp",
    "brand_new_field": {"kept": True},
}


def test_payload_shape_and_data() -> None:
    event = build_event(image=IMAGE, account="a-b@x.com", status=resolve(IMAGE),
                        previous=Status("PROCESSING", 10, False), now=1_700_000_000.25)
    assert event.payload() == {
        "type": "image.completed",
        "timestamp": "2023-11-14T22:13:20.250Z",
        "data": {
            "image_id": IMAGE["image_id"],
            "email": "a-b@x.com",
            "source": "default",
            "status": "COMPLETED",
            "status_code": 1,
            "final": True,
            "previous_status": "PROCESSING",
            "image_url": IMAGE["image_url"],
            "image": IMAGE,
        },
    }


def test_id_is_deterministic_per_image_and_status() -> None:
    completed = resolve(IMAGE)
    assert event_id(IMAGE["image_id"], completed) == event_id(IMAGE["image_id"], Status("COMPLETED", 1, True))
    assert event_id(IMAGE["image_id"], completed) != event_id(IMAGE["image_id"], Status("QUEUED", 5, False))
    assert event_id(IMAGE["image_id"], completed) != event_id("other", completed)
    # Job ids are built from it: RQ allows only these characters.
    assert event_id(IMAGE["image_id"], completed).replace("_", "").isalnum()


def test_types() -> None:
    assert event_type(resolve({"image_status": 7})) == "image.moderated"
    assert event_type(resolve({"image_status": 6})) == "image.unknown"
    assert event_type(resolve({"image_status": 11, "image_status_name": "UPSCALING"})) == "image.unknown"
    assert event_type(deleted()) == "image.deleted"
    assert {
        "image.completed", "image.queued", "image.moderated", "image.failed", "image.generating",
        "image.processing", "image.deleted", "image.unknown", "image.stalled", "image.expired",
        "video.completed", "video.queued", "video.moderated", "video.failed", "video.generating",
        "video.deleted", "video.unknown", "video.stalled", "video.expired",
    } == EVENT_TYPES


def test_video_events_and_the_image_ids_that_did_not_change() -> None:
    from notifier.state.events import STALLED
    from notifier.upstream.media import VIDEOS

    video = {"video_id": "user:1-pixverse:a@x.com-video:7", "video_status": 1, "url": "https://m.example/7.mp4"}
    event = build_event(image=video, account=None, status=resolve(video, VIDEOS), previous=None, now=0.0,
                        medium=VIDEOS)
    assert event.type == "video.completed" and event.item_id == video["video_id"]
    assert event.data["video_url"] == video["url"] and event.data["email"] == "a@x.com"
    assert "image_id" not in event.data and event.data["video"] == video
    # The same transition of an image keeps the id it always had (sha of id, previous, status, seq).
    assert event_id("i", Status("COMPLETED", 1, True), previous=Status("PROCESSING", 10, False), seq=2) == \
        "evt_" + __import__("hashlib").sha256(b"i\nPROCESSING:10\nCOMPLETED:1\n2").hexdigest()[:32]
    stalled = build_event(image=video, account="a@x.com", status=Status("GENERATING", 10, False), previous=None,
                          now=0.0, medium=VIDEOS, kind=STALLED, age_s=901.0)
    assert stalled.type == "video.stalled" and stalled.data["in_progress_s"] == 901.0
    assert stalled.id != event_id(video["video_id"], Status("GENERATING", 10, False))


def test_unknown_event_carries_the_code_and_no_image_url_when_absent() -> None:
    image = {"image_id": "x", "image_status": 6}
    event = build_event(image=image, account="a@x.com", status=resolve(image), previous=None, now=0)
    assert event.data["status_code"] == 6
    assert event.data["previous_status"] is None
    assert "image_url" not in event.data


def test_email_from_image_id_when_polling_without_email() -> None:
    assert email_of({"image_id": "user:1-pixverse:me@x.com-image:5"}, None) == "me@x.com"
    assert email_of({"image_id": "odd"}, None) is None


def test_timestamp_is_utc_iso() -> None:
    assert format_timestamp(0) == "1970-01-01T00:00:00.000Z"


def test_an_event_names_its_source() -> None:
    event = build_event(image=IMAGE, account="a-b@x.com", status=resolve(IMAGE), previous=None, now=0,
                        source="team_b")
    assert event.data["source"] == "team_b"
    # The id is the transition's: the same image seen through two tokens of one useapi.net user is one change.
    same = build_event(image=IMAGE, account="a-b@x.com", status=resolve(IMAGE), previous=None, now=0)
    assert event.id == same.id
