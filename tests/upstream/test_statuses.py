import pytest

from notifier.upstream.statuses import NO_INFORMATION, Status, resolve


@pytest.mark.parametrize(
    ("code", "name", "final"),
    [(1, "COMPLETED", True), (5, "QUEUED", False), (7, "MODERATED", True), (8, "FAILED", True),
     (9, "GENERATING", False), (10, "PROCESSING", False)],
)
def test_known_codes_without_upstream_names(code: int, name: str, final: bool) -> None:
    assert resolve({"image_status": code}) == Status(name, code, final)


def test_upstream_name_and_final_win_over_the_table() -> None:
    # The video endpoint was seen sending QUEUED with final: true; the upstream's word stands.
    status = resolve({"image_status": 5, "image_status_name": "QUEUED", "image_status_final": True})
    assert status == Status("QUEUED", 5, True)


@pytest.mark.parametrize("code", [0, 2, 3, 4, 6, -1, 99])
def test_unknown_codes_are_unknown_and_not_final(code: int) -> None:
    status = resolve({"image_status": code})
    assert (status.name, status.code, status.final, status.known) == ("UNKNOWN", code, False, False)


@pytest.mark.parametrize(
    "image",
    [{}, {"image_status": True}, {"image_status": None}, {"image_status": 1.5},
     {"error": "Internal error", "code": 500}, {"image_status": None, "image_status_name": None}],
)
def test_missing_null_or_garbage_codes_are_no_information(image: dict[str, object]) -> None:
    # Issue #10, case 4: these were UNKNOWN, an invented transition (and a second one back).
    status = resolve(image)
    assert status == NO_INFORMATION
    assert not status.informative and status.final is False


def test_a_code_sent_as_a_string_is_read() -> None:
    assert resolve({"image_status": "1"}).name == "COMPLETED"
    assert resolve({"image_status": None, "image_status_name": "GENERATING"}).name == "GENERATING"


def test_garbage_names_fall_back_to_the_table() -> None:
    assert resolve({"image_status": 1, "image_status_name": "<!channel> x" * 10}).name == "COMPLETED"
    assert resolve({"image_status": 1, "image_status_name": ""}).name == "COMPLETED"
    assert resolve({"image_status": 1, "image_status_final": "yes"}).final is True


def test_new_upstream_name_is_kept_but_not_a_known_status() -> None:
    status = resolve({"image_status": 11, "image_status_name": "upscaling", "image_status_final": False})
    assert status.name == "UPSCALING"
    assert not status.known


def test_status_key_distinguishes_unknown_codes() -> None:
    assert resolve({"image_status": 3}).key != resolve({"image_status": 4}).key


def test_videos_have_their_own_fields_and_table() -> None:
    from notifier.upstream.media import VIDEOS

    assert resolve({"video_status": 10}, VIDEOS) == Status("GENERATING", 10, False)
    assert resolve({"video_status": 1, "video_status_name": "COMPLETED", "video_status_final": True}, VIDEOS).final
    # The upstream marks QUEUED final for videos: not trusted.
    queued = resolve({"video_status": 5, "video_status_name": "QUEUED", "video_status_final": True}, VIDEOS)
    assert queued == Status("QUEUED", 5, False)
    # Undocumented codes as for images; image fields say nothing of a video.
    assert resolve({"video_status": 7}, VIDEOS) == Status("MODERATED", 7, True)
    assert resolve({"video_status": 6}, VIDEOS) == Status("UNKNOWN", 6, False)
    assert not resolve({"image_status": 1}, VIDEOS).informative
